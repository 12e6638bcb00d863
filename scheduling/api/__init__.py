"""The scheduling API: free slots, appointments and their status, the waitlist and
treatment courses, through the same selectors and services as the staff pages.

Who may do what is ``clinic.permissions``: reading the schedule needs VIEW_SCHEDULE;
booking, moving, cancelling, moving a visit along and the waitlist need BOOK_APPOINTMENTS;
planning, creating and changing courses needs MANAGE_COURSES. Reading appointments, waitlist
entries and courses is written to the audit log; every write is logged by the service that
makes it.

Serializers here only give requests and responses their shape. A service's
``ValidationError`` becomes a 400 with messages keyed by field; ``SlotTaken`` (the time is
not free, or was taken a moment ago) becomes a 409 with the nearest free alternatives.
"""

from scheduling.api.appointments import (
    AppointmentCancel,
    AppointmentDetail,
    AppointmentList,
    AppointmentReschedule,
    AppointmentStatusChange,
    AppointmentUndo,
    SlotList,
)
from scheduling.api.courses import (
    CourseBooster,
    CourseComplete,
    CourseDetail,
    CourseDiscontinue,
    CourseList,
    CoursePlanProposal,
)
from scheduling.api.waitlist import WaitlistDetail, WaitlistList

__all__ = [
    "AppointmentCancel",
    "AppointmentDetail",
    "AppointmentList",
    "AppointmentReschedule",
    "AppointmentStatusChange",
    "AppointmentUndo",
    "CourseBooster",
    "CourseComplete",
    "CourseDetail",
    "CourseDiscontinue",
    "CourseList",
    "CoursePlanProposal",
    "SlotList",
    "WaitlistDetail",
    "WaitlistList",
]
