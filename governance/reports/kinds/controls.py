"""The controls the reports evidence (issue 16 §2), named once so every report and section cites
the same ids and titles. Ids and titles as in the frameworks (SOC 2 2017 TSC, ISO/IEC
27001:2022 Annex A, NIST SP 800-53 Rev. 5, PCI DSS v4.0.1); docs/compliance.md ("What each
report holds") says which section evidences which."""

from __future__ import annotations

from governance.reports.document import Control

SOC2, ISO, NIST, PCI = "SOC 2", "ISO/IEC 27001:2022", "NIST SP 800-53", "PCI DSS 4.0"

# Access: who holds what, reviewed and removed when no longer needed.
CC6_1 = Control(SOC2, "CC6.1", "Logical access security over protected information assets")
CC6_2 = Control(SOC2, "CC6.2", "Credentials issued to authorized users, removed when not")
CC6_3 = Control(SOC2, "CC6.3", "Access authorized, modified and removed; least privilege")
A5_18 = Control(ISO, "A.5.18", "Access rights")
AC_2 = Control(NIST, "AC-2", "Account management")
AC_2_3 = Control(NIST, "AC-2(3)", "Disable accounts")
AC_6_7 = Control(NIST, "AC-6(7)", "Review of user privileges")
PCI_7_2_4 = Control(PCI, "7.2.4", "User accounts and access privileges reviewed periodically")
PCI_7_2_5_1 = Control(PCI, "7.2.5.1", "Application and system accounts' access reviewed")

# Monitoring and logs: activity recorded, reviewed, protected and retained.
CC7_2 = Control(SOC2, "CC7.2", "System components monitored for anomalies")
CC7_3 = Control(SOC2, "CC7.3", "Security events evaluated and acted on")
A8_15 = Control(ISO, "A.8.15", "Logging")
A8_16 = Control(ISO, "A.8.16", "Monitoring activities")
AU_6 = Control(NIST, "AU-6", "Audit record review, analysis and reporting")
AU_9 = Control(NIST, "AU-9", "Protection of audit information")
AU_9_3 = Control(NIST, "AU-9(3)", "Cryptographic protection of audit information")
AU_10 = Control(NIST, "AU-10", "Non-repudiation")
AU_11 = Control(NIST, "AU-11", "Audit record retention")
PCI_10_2 = Control(PCI, "10.2", "Audit logs capture user activity and failed access attempts")
PCI_10_3 = Control(PCI, "10.3", "Audit logs protected from destruction and modification")
PCI_10_5_1 = Control(PCI, "10.5.1", "Audit log history retained at least 12 months")
PCI_10_7 = Control(PCI, "10.7", "Failures of critical security controls detected and handled")

ACCESS_REVIEW = [CC6_2, CC6_3, A5_18, AC_2, PCI_7_2_4]
ACCESS_INVENTORY = [CC6_1, CC6_2, CC6_3, A5_18, AC_2, PCI_7_2_4, PCI_7_2_5_1]
REMOVAL = [CC6_2, CC6_3, A5_18, AC_2, AC_2_3]
ACTIVITY = [CC7_2, A8_15, A8_16, AU_6, PCI_10_2]
LOG_PROTECTION = [A8_15, AU_9, AU_9_3, PCI_10_3]
RETENTION = [A8_15, AU_11, PCI_10_5_1]
MONITORING = [CC7_2, CC7_3, A8_16, AU_6, PCI_10_7]


def union(*groups: list[Control]) -> list[Control]:
    """The controls of several sections, each once, in first-cited order (the report's list)."""
    seen: dict[Control, None] = {}
    for group in groups:
        for control in group:
            seen.setdefault(control)
    return list(seen)
