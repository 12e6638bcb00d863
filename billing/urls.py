"""Billing pages, under /staff/billing/ (namespace "billing")."""

from django.urls import path

from billing.views import (
    card_links,
    cards,
    fees,
    invoices,
    packages,
    patients,
    prices,
    reports,
    superbill,
)

app_name = "billing"

urlpatterns = [
    path("", reports.billing_index, name="index"),
    path("close/", reports.daily_close_page, name="close"),
    path("close/csv/", reports.daily_close_csv, name="close-csv"),
    path("aged/", reports.aged_balances_page, name="aged"),
    path("aged/csv/", reports.aged_balances_csv, name="aged-csv"),
    path("open/", reports.open_invoices_page, name="open"),
    path("prices/", prices.prices, name="prices"),
    path("patients/<uuid:patient_id>/", patients.patient_billing, name="patient"),
    path("patients/<uuid:patient_id>/payments/", patients.patient_payment_list, name="payments"),
    path("invoices/<uuid:invoice_id>/", invoices.invoice_page, name="invoice"),
    path(
        "invoices/<uuid:invoice_id>/visit-price/",
        invoices.invoice_visit_price,
        name="invoice-visit-price",
    ),
    path("invoices/<uuid:invoice_id>/lines/", invoices.invoice_line_add, name="invoice-line-add"),
    path(
        "invoices/<uuid:invoice_id>/lines/<int:line_id>/remove/",
        invoices.invoice_line_remove,
        name="invoice-line-remove",
    ),
    path("invoices/<uuid:invoice_id>/issue/", invoices.invoice_issue_view, name="invoice-issue"),
    path("invoices/<uuid:invoice_id>/pay/", invoices.payment_take_view, name="invoice-pay"),
    path("invoices/<uuid:invoice_id>/credit/", invoices.credit_view, name="invoice-credit"),
    path("invoices/<uuid:invoice_id>/void/", invoices.void_view, name="invoice-void"),
    path(
        "invoices/<uuid:invoice_id>/give-back-deposit/",
        invoices.deposit_give_back_view,
        name="deposit-give-back",
    ),
    path(
        "invoices/<uuid:invoice_id>/payments/<uuid:payment_id>/refund/",
        invoices.refund_view,
        name="payment-refund",
    ),
    path("patients/<uuid:patient_id>/card/", cards.card_setup_view, name="card-setup"),
    path(
        "patients/<uuid:patient_id>/card/<uuid:setup_id>/done/",
        cards.card_setup_done,
        name="card-setup-done",
    ),
    path("patients/<uuid:patient_id>/card/remove/", cards.card_remove_view, name="card-remove"),
    path("invoices/<uuid:invoice_id>/charge-card/", cards.card_charge_view, name="card-charge"),
    path("invoices/<uuid:invoice_id>/pay-by-card/", cards.checkout_view, name="checkout"),
    path(
        "invoices/<uuid:invoice_id>/pay-by-card/<uuid:charge_id>/done/",
        cards.checkout_done,
        name="checkout-done",
    ),
    path(
        "patients/<uuid:patient_id>/card/send-link/",
        card_links.card_link_send_view,
        name="card-link-send",
    ),
    path("fees/", fees.fee_list, name="fees"),
    path("fees/<uuid:fee_id>/charge/", fees.fee_charge_view, name="fee-charge"),
    path("fees/<uuid:fee_id>/waive/", fees.fee_waive_view, name="fee-waive"),
    path("booking-policies/", fees.booking_policies, name="booking-policies"),
    path(
        "booking-policies/<uuid:location_id>/",
        fees.booking_policy_edit,
        name="booking-policy",
    ),
    # The superbill (billing.views.superbill).
    path("invoices/<uuid:invoice_id>/superbill/", superbill.invoice_superbill, name="superbill"),
    path(
        "patients/<uuid:patient_id>/superbill/",
        superbill.patient_superbill,
        name="patient-superbill",
    ),
    path("superbill-codes/", superbill.superbill_codes, name="superbill-codes"),
    path("superbill-codes/practice/", superbill.practice_edit, name="superbill-practice"),
    path(
        "superbill-codes/practice/<uuid:location_id>/",
        superbill.practice_edit,
        name="superbill-location-practice",
    ),
    path("superbill-codes/services/new/", superbill.service_code_edit, name="superbill-code-new"),
    path(
        "superbill-codes/services/<uuid:code_id>/",
        superbill.service_code_edit,
        name="superbill-code",
    ),
    path(
        "superbill-codes/diagnoses/<str:condition>/",
        superbill.diagnosis_edit,
        name="superbill-diagnosis",
    ),
    # Packages (billing.views.packages).
    path("packages/", packages.package_offers, name="package-offers"),
    path("packages/<uuid:offer_id>/", packages.package_offer_page, name="package-offer"),
    path(
        "packages/<uuid:offer_id>/retire/",
        packages.package_offer_retire_view,
        name="package-offer-retire",
    ),
    path(
        "patients/<uuid:patient_id>/packages/",
        packages.patient_package_list,
        name="patient-packages",
    ),
    path(
        "patients/<uuid:patient_id>/packages/sell/",
        packages.package_sell_view,
        name="package-sell",
    ),
    path("reports/packages/", packages.package_liability_view, name="package-liability"),
]
