"""Top-k counts and the train/val records in SlowFast's json_stats layout."""
import pytest
import torch

from slowfast.engine.meters import ScalarMeter, TrainMeter, ValMeter, topks_correct


def test_topks_correct_on_known_logits():
    logits = torch.tensor([[0.1, 0.5, 0.4], [0.7, 0.2, 0.1], [0.2, 0.3, 0.5]])
    labels = torch.tensor([2, 0, 0])
    top1, top2, top3 = topks_correct(logits, labels, (1, 2, 3))
    assert (top1.item(), top2.item(), top3.item()) == (1.0, 2.0, 3.0)


def test_scalar_meter_window_and_global():
    meter = ScalarMeter(window_size=2)
    for value, weight in ((1.0, 1), (10.0, 3), (4.0, 1)):
        meter.add_value(value, weight)
    assert meter.get_win_median() == 7.0 and meter.get_win_avg() == 7.0
    assert meter.get_global_avg() == pytest.approx(35.0 / 5)


def test_train_records_have_slowfast_keys():
    meter = TrainMeter(epoch_iters=940, max_epoch=196, topk=5, log_period=10, device=torch.device("cpu"))
    meter.iter_tic()
    meter.data_toc()
    meter.net_toc()
    meter.update_stats(top1_err=25.0, topk_err=12.5, loss=1.5, lr=0.1, batch_size=8)
    record = meter.iter_stats(epoch=2, cur_iter=19)
    assert record["_type"] == "train_iter_" and record["epoch"] == "3/196" and record["iter"] == "20/940"
    assert set(record) == {"_type", "epoch", "iter", "dt", "dt_data", "dt_net", "eta", "loss", "lr",
                           "top1_err", "top5_err", "mem"}
    assert (record["loss"], record["lr"], record["top1_err"], record["top5_err"]) == (1.5, 0.1, 25.0, 12.5)
    assert record["mem"].endswith("G")
    epoch_record = meter.epoch_stats(epoch=2)
    assert epoch_record["_type"] == "train_epoch" and "iter" not in epoch_record and epoch_record["num_failed"] == 0


def test_val_record_tracks_minimum_error():
    meter = ValMeter(max_epoch=10, topk=5, device=torch.device("cpu"))
    meter.update_counts(top1_correct=6, topk_correct=9, num_samples=10)
    first = meter.epoch_stats(0)
    assert (first["top1_err"], first["top5_err"], first["min_top1_err"]) == (40.0, 10.0, 40.0)
    meter.reset()
    meter.update_counts(top1_correct=5, topk_correct=10, num_samples=10)
    second = meter.epoch_stats(1)
    assert (second["_type"], second["epoch"], second["top1_err"], second["min_top1_err"], second["min_top5_err"]) == (
        "val_epoch", "2/10", 50.0, 40.0, 0.0)
