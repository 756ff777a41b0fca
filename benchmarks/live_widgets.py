"""Benchmark: live tuning through the pipeline widget.

Changes ``aeff_percent`` through its slider control and measures, per change,
the time until the stacked dataset is updated and until the last refreshed plot
and sky-view message has been sent. The widget runs in the calling thread here
(``threaded=False``) so that the times are those of the work itself. Reported for
the four Crab runs (target: stacked < 50 ms median, messages < 100 ms) and for the
21 PKS 2155-304 runs (target: < 300 ms), with the full-run time beside them.
"""

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import CRAB_RUNS, data_dir  # noqa: E402

VALUES = [5, 15, 20, 8, 12, 3, 25, 10, 6, 14, 18, 9, 11, 4, 16, 7, 13, 2, 10, 22, 5]


class MessageClock:
    """Records when each widget message leaves (bqplot/ipywidgets comms and the sky view's ``send``)."""

    def __init__(self):
        self.last = None
        self.count = 0

    def stamp(self):
        self.last = time.perf_counter()
        self.count += 1


def _instrument(widget, clock):
    import ipywidgets

    original = ipywidgets.Widget.send_state

    def send_state(self, key=None):
        result = original(self, key)
        clock.stamp()
        return result

    ipywidgets.Widget.send_state = send_state
    view_send = widget.sky_view.send

    def send(message, buffers=None):
        view_send(message, buffers)
        clock.stamp()

    widget.sky_view.send = send
    return lambda: setattr(ipywidgets.Widget, "send_state", original)


def measure(obs_ids, label, center=None):
    from dl3lab.reduction import DataStore, SafeMaskMaker
    from dl3lab.reduction.pipeline import GeometrySpec, ReductionPipeline
    from dl3lab.widgets import PipelineWidget

    geometry = GeometrySpec() if center is None else GeometrySpec(lon=center[0], lat=center[1])
    geometry.energy_true_min = 0.08
    geometry.energy_min = 0.1  # so that the aeff-max threshold falls inside the axis and the mask changes
    safe = SafeMaskMaker(methods=["aeff-max", "offset-max"], offset_max="2.5 deg")
    pipeline = ReductionPipeline(DataStore.from_dir(data_dir()), obs_ids, geometry=geometry, safe_mask_maker=safe)
    widget = PipelineWidget(pipeline, threaded=False)
    widget.sky_view._is_loaded = True  # messages go out as in a rendered view
    clock = MessageClock()
    restore = _instrument(widget, clock)
    try:
        start = time.perf_counter()
        widget.request_run(immediate=True)
        full = time.perf_counter() - start
        if pipeline.errors:
            raise RuntimeError(pipeline.error_report())
        slider = widget.panels["safe_mask_maker"].controls["aeff_percent"].widget
        stacked, sent, safe_bins = [], [], set()
        for value in VALUES:
            clock.last = None
            before = pipeline.run_counts["stack"]
            start = time.perf_counter()
            slider.value = float(value)
            assert pipeline.run_counts["stack"] == before + 1
            stacked.append(widget.last_run_duration)
            sent.append(clock.last - start)
            safe_bins.add(int(pipeline.stacked.mask_safe.data.sum()))
    finally:
        restore()

    def ms(values):
        p90 = sorted(values)[int(0.9 * len(values))]
        return f"median {1000 * statistics.median(values):.0f} ms (p90 {1000 * p90:.0f})"

    print(f"{label}: {len(obs_ids)} runs, full run {full:.2f} s; aeff_percent change: stacked dataset {ms(stacked)}, "
          f"last plot/sky message {ms(sent)}; {len(safe_bins)} different safe masks")

def main():
    from dl3lab.reduction import DataStore

    table = DataStore.from_dir(data_dir()).obs_table
    pks = [int(i) for i, name in zip(table["OBS_ID"], table["OBJECT"]) if str(name).strip() == "PKS 2155-304"]
    measure(CRAB_RUNS, "Crab")
    measure(pks, "PKS 2155-304", center=(329.71694, -30.22559))


if __name__ == "__main__":
    main()
