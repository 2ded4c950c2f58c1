"""The one configuration tree of the framework, every key documented where it is declared.

Loaders, trainer, evaluator, demo and tools all read the same ``cfg``. Values here are
defaults; YAML files under ``configs/`` override them (with ``_BASE_`` inheritance) and
command-line ``KEY VALUE`` pairs override those. Unknown keys and type mismatches raise
(fvcore/yacs name the key). Cross-key validation lives in ``slowfast/config/validate.py``.
"""
from fvcore.common.config import CfgNode

_C = CfgNode()

# ---------------------------------------------------------------------------- #
# Training
# ---------------------------------------------------------------------------- #
_C.TRAIN = CfgNode()
# Run training.
_C.TRAIN.ENABLE = True
# Registered dataset name used for training and validation (see DATASET_REGISTRY).
_C.TRAIN.DATASET = "kinetics"
# Global mini-batch size: summed over every process of every machine.
_C.TRAIN.BATCH_SIZE = 64
# Validate every this many epochs (and always after the last one).
_C.TRAIN.EVAL_PERIOD = 10
# Save a checkpoint every this many epochs (and always after the last one).
_C.TRAIN.CHECKPOINT_PERIOD = 10
# Resume from the newest checkpoint in OUTPUT_DIR/checkpoints when one exists.
_C.TRAIN.AUTO_RESUME = True
# Weights to start from (fine-tuning) when there is nothing to resume. "" = from scratch.
_C.TRAIN.CHECKPOINT_FILE_PATH = ""
# Layout of TRAIN.CHECKPOINT_FILE_PATH: "auto" (detected from the file), "pytorch" (ours and the
# public SlowFast .pyth), "caffe2" (SlowFast model-zoo .pkl), "efficient_slowfast" (the released
# efficient dual-attention SlowFast .pyth) or "efficient_3dcnns" (Efficient-3DCNNs .pth).
_C.TRAIN.CHECKPOINT_TYPE = "auto"
# When fine-tuning, start counting epochs from 0 instead of the checkpoint's epoch.
_C.TRAIN.CHECKPOINT_EPOCH_RESET = False
# When fine-tuning, a checkpoint of another MODEL.NUM_CLASSES starts a new head (listed) either way;
# any other tensor the checkpoint does not fill (other shapes, missing, unused) is an error, unless
# True: then they are listed and keep their initial values.
_C.TRAIN.CHECKPOINT_ALLOW_SHAPE_MISMATCH = False
# The "k" of the top-k error that is logged next to top-1.
_C.TRAIN.TOPK = 5
# Mixed precision: bf16 autocast on CPU, fp16 autocast + GradScaler on CUDA.
_C.TRAIN.MIXED_PRECISION = False

# ---------------------------------------------------------------------------- #
# Testing (multi-view evaluation)
# ---------------------------------------------------------------------------- #
_C.TEST = CfgNode()
# Run multi-view testing (after training when both are enabled).
_C.TEST.ENABLE = True
# Registered dataset name for testing.
_C.TEST.DATASET = "kinetics"
# Global mini-batch size for testing.
_C.TEST.BATCH_SIZE = 8
# Weights to test; "" = the newest checkpoint in OUTPUT_DIR/checkpoints (or the trained model).
_C.TEST.CHECKPOINT_FILE_PATH = ""
# Layout of TEST.CHECKPOINT_FILE_PATH (the values of TRAIN.CHECKPOINT_TYPE). Testing, the demo,
# Grad-CAM and export refuse a checkpoint that leaves any model tensor at its initial value.
_C.TEST.CHECKPOINT_TYPE = "auto"
# Testing, the demo, Grad-CAM and export refuse to run without a checkpoint (TEST.CHECKPOINT_FILE_PATH,
# the newest of OUTPUT_DIR, TRAIN.CHECKPOINT_FILE_PATH) unless True: random weights on purpose
# (tests, speed benchmarks).
_C.TEST.ALLOW_RANDOM_INIT = False
# Number of temporal clips sampled uniformly per video.
_C.TEST.NUM_ENSEMBLE_VIEWS = 10
# Number of spatial crops (1 = centre, 3 = left/centre/right along the long side).
_C.TEST.NUM_SPATIAL_CROPS = 3
# How per-view scores are combined per video: "sum" or "max".
_C.TEST.ENSEMBLE_METHOD = "sum"
# File to write per-video predictions to ("" = do not write). Relative to OUTPUT_DIR.
_C.TEST.SAVE_RESULTS_PATH = ""
# Test (and run the demo's PyTorch predictor) with BatchNorm folded into the convolutions, in the
# memory layout TEST.OPTIMIZE_LAYOUT names (inference.optimize.optimize_for_inference); off while
# Grad-CAM visualisation needs gradients.
_C.TEST.OPTIMIZE = True
# Memory layout of the optimised model: "auto" = a fixed rule, the same choice every run
# (channels_last_3d on CPU for 3D-conv models, the faster layout for every family in
# docs/benchmarks.md "Inference path"; contiguous on CUDA), "channels_last", "contiguous", or
# "probe" (time both at the first batch's shape and keep the faster: may differ between runs).
_C.TEST.OPTIMIZE_LAYOUT = "auto"

# ---------------------------------------------------------------------------- #
# Data
# ---------------------------------------------------------------------------- #
_C.DATA = CfgNode()
# Directory with the annotation files ({train,val,test}.csv, Jester lists, ...).
_C.DATA.PATH_TO_DATA_DIR = ""
# Separator between path and label in annotation lines.
_C.DATA.PATH_LABEL_SEPARATOR = " "
# Prefix prepended to every video path of the annotation files.
_C.DATA.PATH_PREFIX = ""
# Number of frames of the (fast pathway) input clip.
_C.DATA.NUM_FRAMES = 8
# Stride between sampled frames, in frames at DATA.TARGET_FPS.
_C.DATA.SAMPLING_RATE = 8
# Videos are resampled to this frame rate before sampling.
_C.DATA.TARGET_FPS = 30
# Training short-side jitter range [min, max] in pixels.
_C.DATA.TRAIN_JITTER_SCALES = [256, 320]
# Training crop size.
_C.DATA.TRAIN_CROP_SIZE = 224
# Test crop size (short side is scaled to it before cropping).
_C.DATA.TEST_CROP_SIZE = 256
# Per-channel mean and std of the input (pixel values in [0, 1]).
_C.DATA.MEAN = [0.45, 0.45, 0.45]
_C.DATA.STD = [0.225, 0.225, 0.225]
# Channels of the input of each pathway.
_C.DATA.INPUT_CHANNEL_NUM = [3, 3]
# Random horizontal flip in training (off for datasets whose labels are left/right).
_C.DATA.RANDOM_FLIP = True
# Colour jitter strengths [brightness, contrast, saturation] in training; 0 disables each.
_C.DATA.COLOR_JITTER = [0.0, 0.0, 0.0]
# Decoder: "pyav" (video files), "frames" (JPEG folders) or "torchcodec" (if installed).
_C.DATA.DECODING_BACKEND = "pyav"
# Decoder threads per video (0 = FFmpeg's choice, 1 = single-threaded).
_C.DATA.DECODING_THREADS = 1
# Template of frame file names inside a frame folder.
_C.DATA.FRAME_TEMPLATE = "img_{:05d}.jpg"
# Index of the first frame file of a frame folder.
_C.DATA.FRAME_START_INDEX = 1
# Annotation labels run 1..K and are converted to 0..K-1 (otherwise such lists are rejected).
_C.DATA.ONE_BASED_LABELS = False
# MiB of decoded videos each dataset keeps in memory, so that epochs after the first cut their
# clips without decoding (0 = none). For small datasets, with DATA_LOADER.NUM_WORKERS 0 (workers
# restart every epoch): the built-in synthetic one needs ~910 for train and ~180 for val.
_C.DATA.DECODED_CACHE_MB = 0
# How many other samples to try in training when a video fails to decode.
_C.DATA.MAX_DECODE_RETRIES = 10
# Frame rate of frame folders, which carry none (0 = DATA.TARGET_FPS, i.e. no resampling).
_C.DATA.FRAME_FOLDER_FPS = 0.0
# Which official UCF101/HMDB51 split (trainlist0K.txt / testlist0K.txt) to read: 1, 2 or 3.
_C.DATA.SPLIT_ID = 1

# ---------------------------------------------------------------------------- #
# Built-in synthetic motion dataset (generated on first use; see datasets/synthetic.py)
# ---------------------------------------------------------------------------- #
_C.SYNTHETIC = CfgNode()
# Where to generate the dataset ("" = ~/.cache/slowfast/synthetic-<hash of settings>).
_C.SYNTHETIC.CACHE_DIR = ""
# Clips generated per class for the train / val / test splits.
_C.SYNTHETIC.CLIPS_PER_CLASS = [60, 12, 12]
# Frames per generated video.
_C.SYNTHETIC.NUM_FRAMES = 48
# Frame size [height, width] of generated videos.
_C.SYNTHETIC.FRAME_SIZE = [96, 128]
# Frame rate of the generated videos.
_C.SYNTHETIC.FPS = 30
# Seed of the generator: the same seed gives byte-identical datasets.
_C.SYNTHETIC.SEED = 0
# Also write a JPEG frame-folder copy in the Jester-v1 layout.
_C.SYNTHETIC.FRAME_FOLDERS = False
# Which built-in dataset TRAIN.DATASET / TEST.DATASET read: "" (the motion clips of the
# "synthetic" dataset), "ava" (the "ava" dataset reads a generated AVA layout: several actors per
# video, 1-3 simultaneous motions each; every AVA.* path points at it) or "charades" (the
# "charades" dataset reads a generated multi-label frame-list layout). See
# datasets/synthetic_detection.py.
_C.SYNTHETIC.LAYOUT = ""
# AVA layout: videos of the train / val splits.
_C.SYNTHETIC.AVA_VIDEOS = [40, 10]
# AVA layout: annotated keyframes per video (1 Hz from AVA.FIRST_FRAME_SEC + 1 s); a video holds
# AVA_KEYFRAMES + 1 seconds of frames at AVA.FPS instead of AVA's 15 minutes.
_C.SYNTHETIC.AVA_KEYFRAMES = 5
# AVA layout: [min, max] actors per video.
_C.SYNTHETIC.AVA_ACTORS = [2, 3]
# Charades layout: videos of the train / val splits (SYNTHETIC.NUM_FRAMES frames each).
_C.SYNTHETIC.CHARADES_VIDEOS = [160, 40]

# ---------------------------------------------------------------------------- #
# AVA action detection (TRAIN.DATASET ava; SlowFast's key names and file names)
# ---------------------------------------------------------------------------- #
_C.AVA = CfgNode()
# Root of the extracted frames: FRAME_DIR/<video_id>/<video_id>_000001.jpg (30 fps from 15:00).
_C.AVA.FRAME_DIR = ""
# Directory of the frame lists (lines "original_vido_id video_idx frame_idx path labels").
_C.AVA.FRAME_LIST_DIR = ""
# Directory of the box CSVs, label map, exclusions and ground truth named below.
_C.AVA.ANNOTATION_DIR = ""
# Frame lists of the training split (in FRAME_LIST_DIR).
_C.AVA.TRAIN_LISTS = ["train.csv"]
# Frame lists of the val / test splits (in FRAME_LIST_DIR).
_C.AVA.TEST_LISTS = ["val.csv"]
# Ground-truth box CSVs of training (video_id,timestamp,x1,y1,x2,y2,action_id,person_id).
_C.AVA.TRAIN_GT_BOX_LISTS = ["ava_train_v2.2.csv"]
# Predicted person boxes also used in training (video_id,...,x2,y2,action_id or empty,score).
_C.AVA.TRAIN_PREDICT_BOX_LISTS = []
# Predicted person boxes evaluated on the val / test splits (scored by the model per class).
_C.AVA.TEST_PREDICT_BOX_LISTS = ["ava_val_predicted_boxes.csv"]
# Predicted boxes scoring below this are left out.
_C.AVA.DETECTION_SCORE_THRESH = 0.9
# The evaluated classes (60 of AVA's 80): label map pbtxt in ANNOTATION_DIR.
_C.AVA.LABEL_MAP_FILE = "ava_action_list_v2.2_for_activitynet_2019.pbtxt"
# Keyframes excluded from evaluation ("video_id,timestamp" lines) in ANNOTATION_DIR.
_C.AVA.EXCLUSION_FILE = "ava_val_excluded_timestamps_v2.2.csv"
# Ground truth of the evaluation in ANNOTATION_DIR.
_C.AVA.GROUNDTRUTH_FILE = "ava_val_v2.2.csv"
# Validate on every keyframe; False validates on the keyframes whose second is a multiple of 4
# (SlowFast's quicker val; the test always uses them all).
_C.AVA.FULL_TEST_ON_VAL = False
# Feed channels in BGR order (models converted from Caffe2 weights).
_C.AVA.BGR = False
# Mirror val / test clips (and their boxes).
_C.AVA.TEST_FORCE_FLIP = False
# [first, last] keyframe second that is annotated (AVA: 902..1798 of each video).
_C.AVA.VALID_SECONDS = [902, 1798]
# Time of the first extracted frame in seconds (AVA's frames start at 15:00 = 900 s).
_C.AVA.FIRST_FRAME_SEC = 900
# Frame rate of the extracted frames.
_C.AVA.FPS = 30

# ---------------------------------------------------------------------------- #
# Model
# ---------------------------------------------------------------------------- #
_C.MODEL = CfgNode()
# Architecture variant for families that have several (ResNet: "c2d", "i3d", "slow", "slowfast").
_C.MODEL.ARCH = "slowfast"
# Registered model name (see MODEL_REGISTRY).
_C.MODEL.MODEL_NAME = "SlowFast"
# Number of classes.
_C.MODEL.NUM_CLASSES = 400
# Loss: "cross_entropy" (or "soft_cross_entropy" for soft targets); multi-label tasks (AVA,
# Charades): "bce" or "bce_logit", both binary cross entropy of sigmoid(logits) against multi-hot
# labels, computed from the logits (models return logits; "bce" is public SlowFast's name).
_C.MODEL.LOSS_FUNC = "cross_entropy"
# Dropout before the classifier.
_C.MODEL.DROPOUT_RATE = 0.5
# Std of the classifier's normal initialisation.
_C.MODEL.FC_INIT_STD = 0.01
# Efficient families (ShuffleNet, ShuffleNetV2, MobileNetV2, GhostNet, two-pathway and single-stream):
# gamma 0 for the last norm of each unit's branch wherever a shortcut or an untouched channel half
# carries the signal, so every unit starts near the identity (ResNets: RESNET.ZERO_INIT_FINAL_BN).
_C.MODEL.ZERO_INIT_FINAL_BN = False
# Activation callers apply to logits to get probabilities ("softmax" or "sigmoid").
# Models always return logits from forward().
_C.MODEL.HEAD_ACT = "softmax"
# Architectures with one pathway / two pathways (used to pack inputs).
_C.MODEL.SINGLE_PATHWAY_ARCH = ["c2d", "i3d", "slow", "single_stream"]
_C.MODEL.MULTI_PATHWAY_ARCH = ["slowfast"]
# Keep weights and inputs in channels_last_3d memory format for training and evaluation. True by
# default: measured side by side on CPU (2 threads, docs/benchmarks.md "Training layout"), a
# training step is faster channels-last for every family: SlowFast R50 (B=2, 224², 8+32 frames)
# 1.85x wall / 1.16x CPU time, the efficient SlowFast and single-stream models (B=8, 112², 4+16)
# 1.19-1.67x wall / 1.19-1.41x CPU time. Not measured on CUDA (set False there if it is slower).
_C.MODEL.CHANNELS_LAST = True

# ---------------------------------------------------------------------------- #
# Two-pathway options
# ---------------------------------------------------------------------------- #
_C.SLOWFAST = CfgNode()
# Fast pathway width = slow width // BETA_INV.
_C.SLOWFAST.BETA_INV = 8
# Frame-rate ratio between fast and slow pathways.
_C.SLOWFAST.ALPHA = 8
# Channel ratio of the fast-to-slow lateral connection's output.
_C.SLOWFAST.FUSION_CONV_CHANNEL_RATIO = 2
# Temporal kernel of the fast-to-slow lateral connection.
_C.SLOWFAST.FUSION_KERNEL_SZ = 5
# Width multiplier of the efficient backbones (ShuffleNet, ShuffleNetV2, MobileNetV2, GhostNet).
_C.SLOWFAST.WIDTH_MULTI = 2.0
# Groups of the ShuffleNet (V1) grouped convolutions.
_C.SLOWFAST.GROUPS = 1
# Fusion between pathways: "" = the model's own default (CMDA for the efficient and dual-attention
# models, lateral for SlowFast), "lateral" (FuseFastToSlow), "cmda" or "none" (no exchange: an ablation).
_C.SLOWFAST.FUSION = ""
# CMDA position attention: query/key width = C' // CMDA_REDUCTION.
_C.SLOWFAST.CMDA_REDUCTION = 1

# ---------------------------------------------------------------------------- #
# ResNet options
# ---------------------------------------------------------------------------- #
_C.RESNET = CfgNode()
# Block: "bottleneck_transform" or "basic_transform".
_C.RESNET.TRANS_FUNC = "bottleneck_transform"
# Groups of the 3x3 convolution (1 = ResNet, >1 = ResNeXt).
_C.RESNET.NUM_GROUPS = 1
# Width per group of the first stage.
_C.RESNET.WIDTH_PER_GROUP = 64
# Apply the spatial stride on the 1x1 convolution (MSRA style) instead of the 3x3.
_C.RESNET.STRIDE_1X1 = False
# Initialise the last BN of each block with zero (block starts as identity).
_C.RESNET.ZERO_INIT_FINAL_BN = False
# Depth: 18, 50 or 101.
_C.RESNET.DEPTH = 50
# Per stage and pathway, how many blocks use the temporal kernel (I3D alternation).
_C.RESNET.NUM_BLOCK_TEMP_KERNEL = [[3], [4], [6], [3]]
# Spatial strides of res2..res5 per pathway.
_C.RESNET.SPATIAL_STRIDES = [[1], [2], [2], [2]]
# Spatial dilations of res2..res5 per pathway.
_C.RESNET.SPATIAL_DILATIONS = [[1], [1], [1], [1]]
# Width divisor applied to every channel count (tiny models for tests and the synthetic data).
_C.RESNET.WIDTH_DIVISOR = 1

# ---------------------------------------------------------------------------- #
# Multigrid training (Wu et al. 2020)
# ---------------------------------------------------------------------------- #
_C.MULTIGRID = CfgNode()
# Total epochs = MAX_EPOCH * EPOCH_FACTOR when the long cycle is on.
_C.MULTIGRID.EPOCH_FACTOR = 1.5
# Short cycle: rotate (batch, crop) shapes every iteration.
_C.MULTIGRID.SHORT_CYCLE = False
# Crop factors of the two extra short-cycle shapes (relative to the default crop).
_C.MULTIGRID.SHORT_CYCLE_FACTORS = [0.5, 0.5 ** 0.5]
# Long cycle: change (batch, frames, crop) between phases of each LR step.
_C.MULTIGRID.LONG_CYCLE = False
# (T factor, S factor) of each long-cycle shape.
_C.MULTIGRID.LONG_CYCLE_FACTORS = [
    (0.25, 0.5 ** 0.5),
    (0.5, 0.5 ** 0.5),
    (0.5, 1),
    (1, 1),
]
# Grow the batch as the clip shrinks (batch x T x S^2 constant, long and short cycle) and the LR
# with it, as published: fills an accelerator. False keeps the default batch and LR in every shape,
# so smaller clips make cheaper steps instead (CPU training, where a step costs what its clips
# cost); the epochs of the phases are the published ones either way.
_C.MULTIGRID.SCALE_BATCH = True
# Per-device batch above which sub-batch BN computes statistics over splits of this size.
_C.MULTIGRID.BN_BASE_SIZE = 8
# Validation runs at the default shape in every phase. Before it (and before a checkpoint) in a
# phase of another shape, recompute the BN statistics at the default shape over this many training
# batches: the phase's own statistics do not fit full-size clips (0 = keep them).
_C.MULTIGRID.DEFAULT_SHAPE_BN_BATCHES = 10
# During the long cycle, validate and checkpoint about this many times per phase (always at its end).
_C.MULTIGRID.EVAL_FREQ = 3
# Set by the trainer: sampling rate of the current long-cycle phase (0 = DATA.SAMPLING_RATE).
_C.MULTIGRID.LONG_CYCLE_SAMPLING_RATE = 0
# Set by engine/multigrid.py init_multigrid: the default (global) batch size, frames and crop.
_C.MULTIGRID.DEFAULT_B = 0
_C.MULTIGRID.DEFAULT_T = 0
_C.MULTIGRID.DEFAULT_S = 0
# Set by engine/multigrid.py init_multigrid: SOLVER.MAX_EPOCH before the rescaling (0 = not applied).
_C.MULTIGRID.BASE_MAX_EPOCH = 0
# Set by init_multigrid: SOLVER.STEPS before they were moved to the multigrid epochs.
_C.MULTIGRID.BASE_STEPS = []

# ---------------------------------------------------------------------------- #
# Optimiser and learning-rate schedule
# ---------------------------------------------------------------------------- #
_C.SOLVER = CfgNode()
# Base learning rate (for the global batch size).
_C.SOLVER.BASE_LR = 0.1
# "cosine", "steps_with_relative_lrs" or "constant".
_C.SOLVER.LR_POLICY = "cosine"
# Final LR of the cosine schedule.
_C.SOLVER.COSINE_END_LR = 0.0
# Epochs at which each relative-LR step starts (steps_with_relative_lrs).
_C.SOLVER.STEPS = []
# Relative LR of each step (multiplies BASE_LR).
_C.SOLVER.LRS = []
# Number of training epochs.
_C.SOLVER.MAX_EPOCH = 300
# SGD momentum, dampening and Nesterov.
_C.SOLVER.MOMENTUM = 0.9
_C.SOLVER.DAMPENING = 0.0
_C.SOLVER.NESTEROV = True
# L2 weight decay.
_C.SOLVER.WEIGHT_DECAY = 1e-4
# Linear warm-up length in epochs and its starting LR.
_C.SOLVER.WARMUP_EPOCHS = 0.0
_C.SOLVER.WARMUP_START_LR = 0.01
# "sgd" or "adamw".
_C.SOLVER.OPTIMIZING_METHOD = "sgd"
# Scale BASE_LR by the number of machines.
_C.SOLVER.BASE_LR_SCALE_NUM_SHARDS = False
# No weight decay on biases and other 1-D parameters (BN has its own BN.WEIGHT_DECAY).
_C.SOLVER.ZERO_WD_1D_PARAM = False
# Clip gradients by value (None = off).
_C.SOLVER.CLIP_GRAD_VAL = None
# Clip gradients by global L2 norm (None = off).
_C.SOLVER.CLIP_GRAD_L2NORM = None
# Adam betas (AdamW only).
_C.SOLVER.BETAS = (0.9, 0.999)

# ---------------------------------------------------------------------------- #
# Batch normalisation
# ---------------------------------------------------------------------------- #
_C.BN = CfgNode()
# Recompute BN statistics on training batches before each validation/checkpoint.
_C.BN.USE_PRECISE_STATS = False
# Batches used for precise BN statistics.
_C.BN.NUM_BATCHES_PRECISE = 200
# Weight decay of BN parameters.
_C.BN.WEIGHT_DECAY = 0.0
# "batchnorm", "sub_batchnorm" (multigrid) or "sync_batchnorm" (CUDA only).
_C.BN.NORM_TYPE = "batchnorm"
# Sub-batch BN: number of splits of the per-device batch.
_C.BN.NUM_SPLITS = 1
# Sync BN: number of devices whose statistics are synchronised (consecutive ranks; rounded up to
# a divisor of the world size; the whole world when at least its size).
_C.BN.NUM_SYNC_DEVICES = 1

# ---------------------------------------------------------------------------- #
# Data loader
# ---------------------------------------------------------------------------- #
_C.DATA_LOADER = CfgNode()
# Worker processes per data loader (0 = load in the main process).
_C.DATA_LOADER.NUM_WORKERS = 2
# Pin memory (only takes effect with CUDA).
_C.DATA_LOADER.PIN_MEMORY = True

# ---------------------------------------------------------------------------- #
# Demo
# ---------------------------------------------------------------------------- #
_C.DEMO = CfgNode()
# Run the demo.
_C.DEMO.ENABLE = False
# Label names: one name per line (line number = id) or an "id,name" CSV.
_C.DEMO.LABEL_FILE_PATH = ""
# Webcam index (-1 = read DEMO.INPUT_VIDEO / DEMO.DATA_SOURCE instead).
_C.DEMO.WEBCAM = -1
# Input video file.
_C.DEMO.INPUT_VIDEO = ""
# Same as DEMO.INPUT_VIDEO (name used by the efficient-SlowFast release).
_C.DEMO.DATA_SOURCE = ""
# Display size when showing in a window.
_C.DEMO.DISPLAY_WIDTH = 0
_C.DEMO.DISPLAY_HEIGHT = 0
# Frames the sliding window advances between two predictions (0 = one window length).
_C.DEMO.BUFFER_SIZE = 0
# Output mp4 path ("" = show in a window).
_C.DEMO.OUTPUT_FILE = ""
# Output frame rate (-1 = the input's).
_C.DEMO.OUTPUT_FPS = -1
# Number of top labels drawn on each frame.
_C.DEMO.TOPK = 3
# Detection models (DETECTION.ENABLE): CSV of precomputed person boxes, as SlowFast's demo reads
# them (video_id,timestamp,x1,y1,x2,y2,action_id,score; corners normalised, timestamp the second
# of DEMO.INPUT_VIDEO, boxes below AVA.DETECTION_SCORE_THRESH dropped). Each box is drawn with its
# DEMO.TOPK actions (slowfast/visualization/box_demo.py).
_C.DEMO.PREDS_BOXES = ""
# Inference backend: "pytorch" or "onnx" (onnxruntime).
_C.DEMO.BACKEND = "pytorch"
# Torch CPU threads during the demo (0 = available cores - 1: one core is left to decoding and encoding).
_C.DEMO.NUM_THREADS = 0

# ---------------------------------------------------------------------------- #
# Deployment: ONNX / TorchScript export and the onnxruntime back end (slowfast/deploy, slowfast/inference)
# ---------------------------------------------------------------------------- #
_C.DEPLOY = CfgNode()
# ONNX file run by DEMO.BACKEND onnx; "" = export the configured model (TEST.CHECKPOINT_FILE_PATH
# weights) at the first clip's shape to OUTPUT_DIR/deploy/<MODEL_NAME>.onnx and run that.
_C.DEPLOY.ONNX_PATH = ""
# ONNX opset of exports (>= 17).
_C.DEPLOY.ONNX_OPSET = 17
# How exports write attention: "fused" (onnxruntime's memory-efficient MultiHeadAttention) or
# "plain" (portable MatMul/Softmax, materialises the L x L matrix).
_C.DEPLOY.ONNX_ATTENTION = "fused"
# onnxruntime intra-op threads of DEMO.BACKEND onnx (0 = as many as torch uses; the demo sets
# all cores but one).
_C.DEPLOY.INTRA_OP_THREADS = 0
# Largest |exported - eager| accepted when an export is checked.
_C.DEPLOY.TOLERANCE = 1e-4

# ---------------------------------------------------------------------------- #
# TensorBoard
# ---------------------------------------------------------------------------- #
_C.TENSORBOARD = CfgNode()
# Write TensorBoard events.
_C.TENSORBOARD.ENABLE = False
# Log directory ("" = OUTPUT_DIR/runs-<dataset>).
_C.TENSORBOARD.LOG_DIR = ""
# Class names file (same formats as DEMO.LABEL_FILE_PATH).
_C.TENSORBOARD.CLASS_NAMES_PATH = ""
_C.TENSORBOARD.CONFUSION_MATRIX = CfgNode()
# Log a confusion matrix at validation.
_C.TENSORBOARD.CONFUSION_MATRIX.ENABLE = False
# Figure size of the confusion matrix.
_C.TENSORBOARD.CONFUSION_MATRIX.FIGSIZE = [8, 8]
_C.TENSORBOARD.HISTOGRAM = CfgNode()
# Log top-k prediction histograms at validation.
_C.TENSORBOARD.HISTOGRAM.ENABLE = False
# k of the histograms.
_C.TENSORBOARD.HISTOGRAM.TOPK = 10
_C.TENSORBOARD.MODEL_VIS = CfgNode()
# Visualise the model on the test set (sample inputs, Grad-CAM).
_C.TENSORBOARD.MODEL_VIS.ENABLE = False
# Log sample input clips.
_C.TENSORBOARD.MODEL_VIS.INPUT_VIDEO = False
_C.TENSORBOARD.MODEL_VIS.GRAD_CAM = CfgNode()
# Log Grad-CAM maps for the test clips.
_C.TENSORBOARD.MODEL_VIS.GRAD_CAM.ENABLE = False
# Target layer names (module names of the model).
_C.TENSORBOARD.MODEL_VIS.GRAD_CAM.LAYER_LIST = []
# Test clips visualised (the first ones the loader yields): bounds the cost of Grad-CAM's backward passes.
_C.TENSORBOARD.MODEL_VIS.NUM_CLIPS = 8
_C.TENSORBOARD.WRONG_PRED_VIS = CfgNode()
# Log wrongly predicted clips.
_C.TENSORBOARD.WRONG_PRED_VIS.ENABLE = False
# Tag prefix of the wrongly predicted clips.
_C.TENSORBOARD.WRONG_PRED_VIS.TAG = "Incorrectly classified videos."

# ---------------------------------------------------------------------------- #
# Action detection (AVA): RoI head on the two-pathway models (public SlowFast's keys)
# ---------------------------------------------------------------------------- #
_C.DETECTION = CfgNode()
# Replace the pooled classification head with the RoI head: model(inputs, bboxes) with bboxes
# (K, 5) = (batch index, x1, y1, x2, y2) in input pixels returns (K, MODEL.NUM_CLASSES) logits.
# Every model of the composition (two-pathway and one-pathway); needs MODEL.LOSS_FUNC bce or
# bce_logit and MODEL.HEAD_ACT sigmoid. The batch comes from the AVA datasets (detection_collate).
_C.DETECTION.ENABLE = False
# RoIAlign's ``aligned`` flag: True shifts box corners by -0.5 pixel (pixel-centre sampling,
# Detectron2's ROIAlignV2); False is the original RoIAlign. Checkpoints were trained with one.
_C.DETECTION.ALIGNED = True
# Output side of RoIAlign per box (then max-pooled to 1x1).
_C.DETECTION.ROI_XFORM_RESOLUTION = 7
# Input pixels per feature-map cell of the last stage (RoIAlign's spatial_scale = 1 / this).
# 0 = derived from the backbone's strides (16 for SlowFast with the dilated, unstrided res5 of
# the AVA configs, 32 for ResNets with a strided res5 and for the efficient families); a
# positive value is checked against the derived stride.
_C.DETECTION.SPATIAL_SCALE_FACTOR = 0

# ---------------------------------------------------------------------------- #
# Benchmark (tools/benchmark.py)
# ---------------------------------------------------------------------------- #
_C.BENCHMARK = CfgNode()
# Epochs of the data-loader benchmark.
_C.BENCHMARK.NUM_EPOCHS = 1
# Log every this many iterations.
_C.BENCHMARK.LOG_PERIOD = 10
# Shuffle the data in the benchmark.
_C.BENCHMARK.SHUFFLE = True

# ---------------------------------------------------------------------------- #
# Misc
# ---------------------------------------------------------------------------- #
# Processes (devices) per machine; 0 = one CPU process.
_C.NUM_GPUS = 1
# Number of machines.
_C.NUM_SHARDS = 1
# Index of this machine.
_C.SHARD_ID = 0
# Where checkpoints, logs and results go.
_C.OUTPUT_DIR = "./output"
# Seed of every random generator.
_C.RNG_SEED = 1
# Log every this many iterations.
_C.LOG_PERIOD = 10
# Print the model's parameters and GFLOPs at start.
_C.LOG_MODEL_INFO = True
# torch threads per process on the CPU (0 = automatic: the cores left after the
# DATA_LOADER.NUM_WORKERS decoding workers, shared among the processes, at least 1).
# Oversubscribed thread pools run many times slower than one thread per free core.
_C.NUM_CPU_THREADS = 0
# torch.distributed backend: "auto" (nccl with CUDA, gloo on CPU), "nccl" or "gloo".
_C.DIST_BACKEND = "auto"
# CPU processes per machine when NUM_GPUS is 0 (gloo data parallel; 1 = no process group).
_C.DIST_CPU_PROCESSES = 1
# Seconds a collective may wait for a peer before the job fails (a dead rank ends the job).
_C.DIST_TIMEOUT_S = 1800


def get_cfg() -> CfgNode:
    """Return a fresh copy of the default config."""
    return _C.clone()
