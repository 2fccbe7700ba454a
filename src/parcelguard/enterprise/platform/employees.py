"""A company's employees on the enterprise console: companies, accounts, sign-in and bearer tokens. No HTTP.

The console keeps its own accounts with `core.auth`'s mechanisms, as the regulator's platform does (Argon2id
hashes, opaque tokens of which only a digest is kept, the same answer and time for a wrong username or password,
failures counted per username). An employee is an `Actor` with `company_id` set and no carrier: `Role.ADMIN` is
the company's admin (carriers, rate tables, staff), `Role.ENTERPRISE` an employee who quotes and ships.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from parcelguard.core import auth
from parcelguard.core.auth import Actor, Role
from parcelguard.core.clock import now
from parcelguard.core.errors import Conflict, Forbidden, Invalid, NotFound, Unauthorized
from parcelguard.enterprise.platform.models import Company, Employee, EmployeeLoginThrottle, EmployeeToken

USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{2,63}$")  # as the carrier platform's accounts
CODE = re.compile(r"^[a-z0-9][a-z0-9-]{1,31}$")
MIN_PASSWORD_LENGTH = 10
ROLES = {"admin": Role.ADMIN, "shipper": Role.ENTERPRISE}


def add_company(*, db_session: Session, code: str, name: str) -> Company:
    if not CODE.match(code):
        raise Invalid("A company code is 2-32 lowercase letters, digits or dashes.", code="company_code_format",
                      field="/code")
    name = name.strip()
    if not 0 < len(name) <= 200:
        raise Invalid("A company name is 1 to 200 characters.", code="company_name_format", field="/name")
    if db_session.scalar(select(Company.id).where(Company.code == code)) is not None:
        raise Conflict("This company code is taken.", code="company_code_taken", field="/code")
    company = Company(code=code, name=name, created_at=now())
    db_session.add(company)
    db_session.flush()
    return company


def company_by_code(*, db_session: Session, code: str) -> Company:
    company = db_session.scalar(select(Company).where(Company.code == code))
    if company is None:
        raise NotFound("No company has this code.", code="company_unknown")
    return company


def add_employee(*, db_session: Session, company_id: uuid.UUID, username: str, display_name: str, password: str,
                 role: str) -> Employee:
    if role not in ROLES:
        raise Invalid("A role is admin or shipper.", code="role_unknown", field="/role")
    if not USERNAME.match(username):
        raise Invalid("A username is 3-64 lowercase letters, digits, dots, dashes or underscores.",
                      code="username_format", field="/username")
    display_name = display_name.strip()
    if not 0 < len(display_name) <= 200:
        raise Invalid("A display name is 1 to 200 characters.", code="display_name_format", field="/display_name")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise Invalid(f"A password has at least {MIN_PASSWORD_LENGTH} characters.", code="password_too_short",
                      field="/password")
    if db_session.scalar(select(Employee.id).where(Employee.username == username)) is not None:
        raise Conflict("This username is taken.", code="username_taken", field="/username")
    employee = Employee(company_id=company_id, username=username, display_name=display_name, role=role,
                        password_hash=auth.hash_password(password), active=True, created_at=now())
    db_session.add(employee)
    db_session.flush()
    return employee


@dataclass(frozen=True)
class IssuedToken:
    token: str
    expires_at: datetime
    employee: Employee


def sign_in(*, db_session: Session, username: str, password: str, token_ttl: timedelta, max_failures: int,
            lockout: timedelta) -> IssuedToken:
    """Check a password and issue a bearer token (429 `login_locked` after `max_failures` failures in a row)."""
    username = username.strip().lower()
    moment = now()
    throttle = auth.refuse_if_locked(db_session=db_session, throttle=EmployeeLoginThrottle, username=username,
                                     moment=moment)
    employee = db_session.scalar(select(Employee).where(Employee.username == username))
    auth.check_password(db_session=db_session, throttle=EmployeeLoginThrottle, throttle_row=throttle,
                        username=username, account=employee, password=password, max_failures=max_failures,
                        lockout=lockout)
    assert employee is not None
    token, digest = auth.new_token()
    expires_at = moment + token_ttl
    db_session.add(EmployeeToken(employee_id=employee.id, token_hash=digest, issued_at=moment, expires_at=expires_at))
    db_session.flush()
    return IssuedToken(token=token, expires_at=expires_at, employee=employee)


_ACTOR_QUERY = (
    select(EmployeeToken.id, EmployeeToken.expires_at, EmployeeToken.revoked_at, Employee.id, Employee.username,
           Employee.active, Employee.role, Employee.company_id)
    .join(Employee, Employee.id == EmployeeToken.employee_id)
)


def authenticate(*, db_session: Session, token: str, terminal_id: str | None) -> Actor:
    """The employee behind a bearer token (`core.auth.Authenticator`; no terminals here). One indexed query."""
    row = db_session.execute(_ACTOR_QUERY.where(EmployeeToken.token_hash == auth.token_digest(token))).first()
    if row is None:
        raise Unauthorized("The token is not valid.", code="token_invalid")
    token_id, expires_at, revoked_at, employee_id, username, active, role, company_id = row
    if revoked_at is not None:
        raise Unauthorized("The token has been revoked.", code="token_revoked")
    if expires_at <= now():
        raise Unauthorized("The token has expired.", code="token_expired")
    if not active:
        raise Unauthorized("The account is disabled.", code="account_disabled")
    return Actor(user_id=employee_id, username=username, role=ROLES[role], carrier_id=None, station_id=None,
                 token_id=token_id, token_expires_at=expires_at.timestamp(), company_id=company_id)


def sign_out(*, db_session: Session, actor: Actor) -> None:
    token = db_session.get(EmployeeToken, actor.token_id)
    if token is not None and token.revoked_at is None:
        token.revoked_at = now()


def company_of(actor: Actor, *, admin: bool = False) -> uuid.UUID:
    """The actor's company (403 for anyone who is not an employee, or not its admin when `admin`)."""
    if actor.company_id is None or actor.role not in ROLES.values():
        raise Forbidden("Only a company's employees use its console.", code="role_not_allowed")
    if admin and actor.role != Role.ADMIN:
        raise Forbidden("Only the company's admin does this.", code="role_not_allowed")
    return actor.company_id
