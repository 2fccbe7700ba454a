"""API shapes for agreements with contract customers. The responsible person's document goes in and
never comes out: answers carry its masked view only."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

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
