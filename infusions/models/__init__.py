"""The infusions app's models, one module per part of the session (Django finds the models
through the imports below):

- ``sessions``: the session, its states and every move it made;
- ``preassessment``: the checks before the infusion;
- ``orders``: the dose order and what was given against it;
- ``readings``: vital signs readings and the alerts they raise;
- ``events``: side effects and interventions;
- ``discharge``: the discharge checklist;
- ``ledger``: the controlled-substance ledger, ketamine stock by lot and every movement;
- ``dea``: the DEA records beside it (each location's registration, its inventories, thefts
  and losses, destruction of stock).
"""

from infusions.models.dea import (
    DeaRegistration,
    Destruction,
    Inventory,
    LossIncident,
    LossIncidentStep,
)
from infusions.models.discharge import Discharge
from infusions.models.events import SessionEvent
from infusions.models.ledger import LedgerEntry, Lot
from infusions.models.orders import DoseAdministration, DoseCorrection, DoseOrder
from infusions.models.preassessment import PreAssessment
from infusions.models.readings import SessionAlert, VitalsReading
from infusions.models.rems import (
    EsketamineDevice,
    EsketamineDose,
    RemsAssessment,
    RemsMonitoringForm,
    RemsPatientEnrolment,
    RemsSettingCertification,
)
from infusions.models.sessions import InfusionSession, SessionStateChange

__all__ = [
    "DeaRegistration",
    "Destruction",
    "Discharge",
    "DoseAdministration",
    "DoseCorrection",
    "DoseOrder",
    "EsketamineDevice",
    "EsketamineDose",
    "InfusionSession",
    "Inventory",
    "LedgerEntry",
    "LossIncident",
    "LossIncidentStep",
    "Lot",
    "PreAssessment",
    "RemsAssessment",
    "RemsMonitoringForm",
    "RemsPatientEnrolment",
    "RemsSettingCertification",
    "SessionAlert",
    "SessionEvent",
    "SessionStateChange",
    "VitalsReading",
]
