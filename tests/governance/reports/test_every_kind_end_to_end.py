"""Every report kind, with its real builder, in every format: made by `manage.py report` (the
console's code path), accepted by `verify_report`, and a tampered copy refused."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from governance.reports.models import ReportFormat, ReportKind, ReportRun
from governance.reviews.models import Campaign, ReviewItem
from tests import ui_factories as f

pytestmark = pytest.mark.django_db
MAGIC = {"pdf": b"%PDF-", "xlsx": b"PK", "json": b"{", "csv": b"\xef\xbb\xbf"}


@pytest.fixture
def inventory_with_campaign(admin_user):
    inv = f.small_inventory()
    campaign = Campaign.objects.create(name="Q4", due_at=timezone.now() + timedelta(days=7))
    ReviewItem.objects.create(
        campaign=campaign,
        grant=inv["cursor"].grants.first(),
        recommendation="keep",
        reviewer=admin_user,
    )
    return campaign


@pytest.mark.parametrize("kind", ReportKind.values)
def test_each_kind_in_each_format_is_made_and_verified(
    kind, inventory_with_campaign, reports_dir, tmp_path, capsys
):
    params = ["--param", f"campaign_id={inventory_with_campaign.pk}"] if kind == "campaign" else []
    for fmt in ReportFormat.values:
        out = tmp_path / f"{kind}.{fmt}"
        call_command(
            "report", kind, "--from", "2026-11-01", "--to", "2026-11-30",
            "--format", fmt, *params, "--out", str(out),
        )  # fmt: skip
        assert out.read_bytes().startswith(MAGIC[fmt]), (kind, fmt)
        capsys.readouterr()
        call_command("verify_report", str(out))
        said = capsys.readouterr().out
        assert "is report run #" in said and "on the current chain: OK" in said, (kind, fmt)
    assert ReportRun.objects.filter(kind=kind, status="done").count() == len(ReportFormat.values)

    tampered = tmp_path / f"{kind}.tampered.pdf"
    tampered.write_bytes((tmp_path / f"{kind}.pdf").read_bytes() + b"\n")
    with pytest.raises(CommandError, match="matches no report"):
        call_command("verify_report", str(tampered))
