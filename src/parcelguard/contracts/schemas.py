"""API shapes for agreements with contract customers. The responsible person's document goes in and
never comes out: answers carry its masked view only."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from parcelguard.contracts.draws import DrawResults
from parcelguard.contracts.models import Agreement
from parcelguard.contracts.service import DEFAULT_INSPECTION_PERMILLE
from parcelguard.identity.schemas import DocumentIn


class OrganisationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(max_length=200, description="As on the business licence.")
    uscc: str = Field(max_length=40, description="统一社会信用代码 (GB 32100-2015), 18 characters.")


class ResponsibleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    document: DocumentIn


class AgreementIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    customer_id: uuid.UUID = Field(description="The enterprise account that ships under the agreement.")
    station_id: uuid.UUID = Field(description="The station that picks its parcels up.")
    organisation: OrganisationIn
    responsible: ResponsibleIn = Field(description="The person responsible for the organisation's shipping.")
    inspection_permille: int = Field(default=DEFAULT_INSPECTION_PERMILLE, description="Thousandths of the "
                                     "customer's parcels drawn for inspection at pickup (50 = 5%).")


class InspectionShareIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    inspection_permille: int


class OrganisationOut(BaseModel):
    name: str
    uscc: str = Field(description="Public, printed on the business licence: shown in full.")


class ResponsibleOut(BaseModel):
    name: str = Field(description="Masked: the surname only.")
    document_type: str
    document: str = Field(description="Masked document number.")


class AgreementOut(BaseModel):
    id: uuid.UUID
    customer_id: uuid.UUID
    station_id: uuid.UUID
    organisation: OrganisationOut
    responsible: ResponsibleOut
    inspection_permille: int
    verified_by: uuid.UUID
    created_at: datetime
    revoked_at: datetime | None

    @classmethod
    def of(cls, row: Agreement) -> AgreementOut:
        return cls(
            id=row.id, customer_id=row.customer_id, station_id=row.station_id,
            organisation=OrganisationOut(name=row.organisation_name, uscc=row.uscc),
            responsible=ResponsibleOut(name=row.responsible_name_masked,
                                       document_type=row.responsible_doc_type,
                                       document=row.responsible_doc_masked),
            inspection_permille=row.inspection_permille, verified_by=row.verified_by,
            created_at=row.created_at, revoked_at=row.revoked_at,
        )


class DrawnParcelOut(BaseModel):
    shipment_id: uuid.UUID
    waybill_no: str | None
    reason: str = Field(description="Why it was drawn: `random` (the agreement's share) or `restricted` (an "
                                    "item the catalogue restricts).")
    status: str
    inspected: bool
    inspected_at: datetime | None
    created_at: datetime


class DrawResultsOut(BaseModel):
    agreement_id: uuid.UUID
    drawn: int = Field(description="The customer's parcels drawn for inspection at pickup.")
    inspected: int = Field(description="Of those, inspected by a courier (开箱验视).")
    refused: int = Field(description="Of those inspected, failed: refused and not carried.")
    waiting: int = Field(description="Drawn, not inspected yet.")
    latest: list[DrawnParcelOut] = Field(description="The latest drawn parcels, newest first.")

    @classmethod
    def of(cls, results: DrawResults) -> DrawResultsOut:
        return cls(agreement_id=results.agreement_id, drawn=results.drawn, inspected=results.inspected,
                   refused=results.refused, waiting=results.waiting,
                   latest=[DrawnParcelOut(shipment_id=p.shipment_id, waybill_no=p.waybill_no, reason=p.reason,
                                          status=p.status, inspected=p.inspected, inspected_at=p.inspected_at,
                                          created_at=p.created_at) for p in results.latest])
