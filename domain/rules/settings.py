"""Per-territory thresholds of the rupture-risk rules.

"Les parcours doivent être adaptés aux territoires : pas de schéma unique national" (DGS):
every delay below is a setting of the territory (département, or a région for the SAS), with
defaults taken from the seeds where they say one (SAS: three weeks; AME/CSS renewal: 30 days;
interpreter: 48 h) and from field practice elsewhere. The agency names are the fallback owners
of a next step when no participant of the pathway holds that role yet.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationInfo, field_serializer, field_validator

from domain.values import AlertSeverity

if TYPE_CHECKING:
    from domain.rules.types import ServiceFinder


class TerritorySettings(BaseModel):
    """Thresholds of one territory. Frozen: a rule never changes them."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    territory: str = "default"
    #: Local time decides what "within N days" means (overseas départements differ).
    timezone: str = "Europe/Paris"

    # exit-without-housing
    exit_without_housing_days: int = Field(15, ge=0)
    #: Severity bands: at most this many days before the exit, a missing housing solution is
    #: critical (after the exit too); at most `exit_high_days`, high; earlier, medium.
    exit_critical_days: int = Field(3, ge=0)
    exit_high_days: int = Field(7, ge=0)
    # rights-not-open
    rights_before_exit_days: int = Field(15, ge=0)
    rights_before_appointment_days: int = Field(7, ge=0)
    coverage_renewal_days: int = Field(30, ge=0)  # "AME/CSS expire within 30 days"
    #: Severity band: rights still closed this many days (or fewer) before the exit or the
    #: appointment are high, medium before.
    rights_high_days: int = Field(3, ge=0)
    # interpreter-missing
    interpreter_hours: int = Field(48, ge=1)
    # referral-unverified
    referral_unverified_days: int = Field(14, ge=1)
    #: A referral through the directory nobody answers is reminded, to both sides, after this
    #: many days (DORA: 10), then expires after `referral_expiry_days`.
    referral_reminder_days: int = Field(10, ge=1)
    #: A referral through the directory nobody answers expires after this many days (DORA: 30),
    #: its place going back to the service's quota (services/directory/expiry.py).
    referral_expiry_days: int = Field(30, ge=1)
    # missed-appointment-unfollowed
    missed_appointment_follow_up_days: int = Field(7, ge=1)
    # contact-lost
    contact_failed_attempts: int = Field(3, ge=1)
    # treatment-continuity
    treatment_continuity_days: int = Field(10, ge=0)
    # newborn-without-follow-up (PMI link; housing uses exit_without_housing_days)
    newborn_pmi_days: int = Field(7, ge=0)
    # screening-overdue
    tb_screening_days: int = Field(10, ge=0)
    pass_appointment_days: int = Field(7, ge=0)
    # stalled
    stalled_days: int = Field(21, ge=1)
    #: A SAS stay lasts three weeks at most: a few idle days already matter.
    sas_stalled_days: int = Field(5, ge=1)

    #: The rules this territory runs (rule ids of the catalogue); None: all of them. A rule
    #: left out raises nothing and its open alerts are resolved as no longer applying.
    enabled_rules: frozenset[str] | None = None

    # Noise control (services/alerting/digest.py): alerts at or above `push_min_severity` are
    # pushed at once; the others reach their owner in one digest per agency and day, sent at
    # `digest_hour` (local time of the territory).
    push_min_severity: AlertSeverity = AlertSeverity.HIGH
    digest_hour: int = Field(8, ge=0, le=23)

    # Fallback owners (names of the territory's agencies).
    siao_agency: str = "SIAO"
    cpam_agency: str = "CPAM"
    pass_agency: str = "PASS"
    clat_agency: str = "CLAT"
    dac_agency: str = "DAC"
    #: Services that see people without open health coverage (an appointment there does not
    #: need rights): matched as words, case-insensitively, in the agency or the service name.
    free_care_markers: tuple[str, ...] = (
        "PASS", "CLAT", "CeGIDD", "PMI", "CSAPA", "CAARUD", "EMPP", "EMSP", "CASO", "USMP", "SMPR", "CMP",
    )

    #: Agency code -> display name (the registry's): what a suggested action names an agency by.
    agency_names: Mapping[str, str] = Field(default_factory=dict)

    #: The directory the suggested actions name services from (the engine gives it; never part
    #: of a stored settings document, nor of their equality).
    _directory: ServiceFinder | None = PrivateAttr(default=None)

    def with_directory(self, directory: ServiceFinder | None) -> TerritorySettings:
        copy = self.model_copy()
        copy._directory = directory
        return copy

    @property
    def directory(self) -> ServiceFinder | None:
        return self._directory

    def agency_name(self, code: str) -> str:
        """The display name of an agency in a French sentence (the code if the registry lacks it)."""
        return self.agency_names.get(code, code)

    def rule_enabled(self, rule_id: str) -> bool:
        return self.enabled_rules is None or rule_id in self.enabled_rules

    def pushed_at_once(self, severity: AlertSeverity | str) -> bool:
        """Whether an alert of `severity` is pushed when it changes (else: the daily digest)."""
        return AlertSeverity(severity).rank >= self.push_min_severity.rank

    @field_validator("exit_high_days")
    @classmethod
    def _high_band_after_critical(cls, value: int, info: ValidationInfo) -> int:
        critical = info.data.get("exit_critical_days")
        if critical is not None and value < critical:
            raise ValueError(f"doit être supérieur ou égal à exit_critical_days ({critical})")
        return value

    @field_validator("enabled_rules")
    @classmethod
    def _known_rules(cls, value: frozenset[str] | None) -> frozenset[str] | None:
        from domain.rules import RULES  # at call time: the package imports this module first

        unknown = sorted(set(value or ()) - set(RULES))
        if unknown:
            raise ValueError(f"règle inconnue : {', '.join(unknown)} (règles : {', '.join(RULES)})")
        return value

    @field_serializer("enabled_rules")
    def _rules_in_order(self, value: frozenset[str] | None) -> list[str] | None:
        return None if value is None else sorted(value)  # a stored document reads the same twice

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"fuseau horaire inconnu : {value}") from exc
        return value

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


DEFAULT_SETTINGS = TerritorySettings()


def settings_for(territory: str, table: Mapping[str, TerritorySettings] | None = None) -> TerritorySettings:
    """The settings of `territory` from `table`, or the defaults named after it."""
    if table and territory in table:
        return table[territory]
    return DEFAULT_SETTINGS.model_copy(update={"territory": territory})
