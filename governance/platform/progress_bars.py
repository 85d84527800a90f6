"""Terminal progress bars for a job run inline by a management command (tqdm)."""

from __future__ import annotations

from tqdm import tqdm

from governance.platform.jobs import Job, Progress, run_inline


class BarProgress(Progress):
    """Job progress that also draws one bar per counter named in `bars` ("pages", "records")."""

    bars: dict[str, tuple[str, str]] = {}  # counter → (description, unit)

    def __init__(self, job: Job, **kwargs):
        super().__init__(job, **kwargs)
        self.drawn = {
            counter: tqdm(desc=desc, unit=unit, position=position)
            for position, (counter, (desc, unit)) in enumerate(self.bars.items())
        }

    def page(self) -> None:
        if "pages" in self.drawn:
            self.drawn["pages"].update(1)
        super().page()

    def record(self, n: int = 1) -> None:
        if "records" in self.drawn:
            self.drawn["records"].update(n)
        super().record(n)

    def close(self) -> None:
        for bar in self.drawn.values():
            bar.close()


def run_with_bars(model: type[Job], job_id: int, **bars: tuple[str, str]) -> str:
    """Run a job inline, drawing a bar per counter: `run_with_bars(Crawl, pk,
    records=("documents", "doc"))`; returns what `jobs.execute` returns."""
    progress_class = type("Bars", (BarProgress,), {"bars": bars})
    return run_inline(model, job_id, progress_class=progress_class)
