"""Staff accounts and their signed-in sessions (the back office's and the CLI's).

Passwords are argon2id hashes (argon2-cffi). A browser session is a random token in a
cookie; only its SHA-256 is stored, so a copy of the database signs nobody in. After
`MAX_FAILED_LOGINS` wrong passwords in a row the account is locked for `LOCK_FOR`.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from licensing.catalog import Role
from storage.models import Staff, StaffPosition, StaffSession

STAFF_ROLES: tuple[str, ...] = tuple(r.value for r in Role if r is not Role.APPLICANT)
ALL_REGIONS = "*"  # only an admin may be region-wide
MAX_FAILED_LOGINS = 5
LOCK_FOR = timedelta(minutes=15)
MIN_PASSWORD = 10
USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{2,39}$")
NIP = re.compile(r"^[0-9]{18}$")  # Nomor Induk Pegawai (ASN): 18 digits
STAFF_LANGS = ("id", "en")

_hasher = PasswordHasher()
# Checked against when the username is unknown, so both cases take the same time.
_DUMMY_HASH = _hasher.hash("not-a-password-of-anyone")


class StaffError(Exception):
    """An account change or sign-in that cannot be done; the message says why (Indonesian)."""


@dataclass(frozen=True)
class SignedIn:
    """The staff member behind a browser session, with that session's CSRF token."""

    staff_id: int
    username: str
    full_name: str
    role: str
    region: str
    csrf: str
    expires_at: datetime
    # Positions (catalog slugs) held in the region: which procedure steps they may act on.
    positions: frozenset[str] = frozenset()
    nip: str | None = None
    lang: str = "id"

    def has_role(self, *roles: str) -> bool:
        return self.role in roles


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def check_account(*, username: str, role: str, region: str, regions: Collection[str]) -> None:
    if not USERNAME.match(username):
        raise StaffError("Nama pengguna: 3-40 huruf kecil, angka, titik, garis bawah atau "
                         "tanda hubung, diawali huruf atau angka.")
    if role not in STAFF_ROLES:
        raise StaffError(f"Peran tidak dikenal: {role}. Pilihan: {', '.join(STAFF_ROLES)}.")
    if region == ALL_REGIONS:
        if role != Role.ADMIN.value:
            raise StaffError('Hanya admin yang boleh berwilayah "*" (semua wilayah).')
    elif region not in regions:
        raise StaffError(f"Wilayah tidak dikenal: {region}. Pilihan: {', '.join(sorted(regions))}.")


def check_positions(positions: Sequence[str], known: Collection[str]) -> tuple[str, ...]:
    """The positions as given, each one the region's standards declare (no repeats)."""
    out = tuple(dict.fromkeys(p.strip() for p in positions if p.strip()))
    unknown = [p for p in out if p not in known]
    if unknown:
        raise StaffError(f"Jabatan tidak dikenal di wilayah ini: {', '.join(unknown)}. "
                         f"Pilihan: {', '.join(sorted(known)) or '(tidak ada)'}.")
    return out


def check_nip(nip: str | None) -> str | None:
    nip = (nip or "").replace(" ", "") or None
    if nip is not None and not NIP.match(nip):
        raise StaffError("NIP terdiri dari 18 angka.")
    return nip


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise StaffError(f"Kata sandi minimal {MIN_PASSWORD} karakter.")


async def add_staff(
    sessions: async_sessionmaker[AsyncSession], *, username: str, full_name: str, role: str,
    region: str, password: str, regions: Collection[str], now: datetime,
    positions: Sequence[str] = (), known_positions: Collection[str] = (),
    nip: str | None = None, lang: str = "id",
) -> Staff:
    """`known_positions`: the positions the region's standards declare."""
    username = username.strip().lower()
    full_name = full_name.strip()
    check_account(username=username, role=role, region=region, regions=regions)
    check_password(password)
    held = check_positions(positions, known_positions)
    nip = check_nip(nip)
    if not full_name:
        raise StaffError("Nama lengkap wajib diisi.")
    if lang not in STAFF_LANGS:
        raise StaffError(f"Bahasa: {', '.join(STAFF_LANGS)}.")
    async with sessions() as session, session.begin():
        if await session.scalar(select(Staff.id).where(Staff.username == username)):
            raise StaffError(f"Nama pengguna {username} sudah dipakai.")
        staff = Staff(username=username, full_name=full_name, role=role, region=region,
                      password_hash=hash_password(password), active=True, failed_logins=0,
                      created_at=now, nip=nip, lang=lang)
        session.add(staff)
        await session.flush()
        session.add_all(StaffPosition(staff_id=staff.id, position=p) for p in held)
    return staff


async def set_positions(
    sessions: async_sessionmaker[AsyncSession], *, actor: SignedIn, staff_id: int,
    positions: Sequence[str], known_positions: Collection[str], nip: str | None = None,
) -> tuple[str, ...]:
    """Replace the positions an account holds (and its NIP); an admin of its region only.
    `known_positions`: those the account's region declares."""
    held = check_positions(positions, known_positions)
    nip = check_nip(nip)
    async with sessions() as session, session.begin():
        staff = await session.get(Staff, staff_id, with_for_update=True)
        if staff is None or not may_manage(actor, staff.region):
            raise StaffError("Akun itu tidak ada di wilayah Anda.")
        if staff.region == ALL_REGIONS and held:
            raise StaffError("Akun semua wilayah tidak memegang jabatan prosedur.")
        await session.execute(delete(StaffPosition).where(StaffPosition.staff_id == staff.id))
        session.add_all(StaffPosition(staff_id=staff.id, position=p) for p in held)
        staff.nip = nip
    return held


async def positions_of(session: AsyncSession, staff_ids: Collection[int]
                       ) -> dict[int, tuple[str, ...]]:
    rows = (await session.execute(
        select(StaffPosition.staff_id, StaffPosition.position)
        .where(StaffPosition.staff_id.in_(list(staff_ids))).order_by(StaffPosition.id))).all()
    out: dict[int, tuple[str, ...]] = {i: () for i in staff_ids}
    for staff_id, position in rows:
        out[staff_id] = (*out[staff_id], position)
    return out


async def set_active(
    sessions: async_sessionmaker[AsyncSession], *, actor: SignedIn, staff_id: int,
    active: bool,
) -> Staff:
    """Activate or deactivate an account; an admin manages only their own region's staff."""
    async with sessions() as session, session.begin():
        staff = await session.get(Staff, staff_id, with_for_update=True)
        if staff is None or not may_manage(actor, staff.region):
            raise StaffError("Akun itu tidak ada di wilayah Anda.")
        if staff.id == actor.staff_id and not active:
            raise StaffError("Anda tidak dapat menonaktifkan akun Anda sendiri.")
        staff.active = active
        if not active:  # signed-in browsers of a deactivated account stop at once
            await session.execute(delete(StaffSession).where(StaffSession.staff_id == staff.id))
        else:
            staff.failed_logins, staff.locked_until = 0, None
    return staff


def may_manage(actor: SignedIn, region: str) -> bool:
    return actor.role == Role.ADMIN.value and actor.region in (ALL_REGIONS, region)


async def login(
    sessions: async_sessionmaker[AsyncSession], *, username: str, password: str,
    now: datetime, ttl: timedelta,
) -> tuple[str, SignedIn]:
    """Check the password and open a session: (cookie token, who). Refusals raise."""
    username = username.strip().lower()
    refusal: str | None = None
    async with sessions() as session, session.begin():
        staff = await session.scalar(
            select(Staff).where(Staff.username == username).with_for_update())
        if staff is None:
            _verify(_DUMMY_HASH, password)
            refusal = "Nama pengguna atau kata sandi salah."
        elif staff.locked_until is not None and staff.locked_until > now:
            refusal = ("Akun terkunci sementara karena terlalu banyak percobaan yang salah. "
                       "Coba lagi nanti atau hubungi admin.")
        elif not _verify(staff.password_hash, password):
            staff.failed_logins += 1
            if staff.failed_logins >= MAX_FAILED_LOGINS:
                staff.failed_logins, staff.locked_until = 0, now + LOCK_FOR
                refusal = (f"Akun dikunci {int(LOCK_FOR.total_seconds() // 60)} menit karena "
                           f"{MAX_FAILED_LOGINS} kali salah kata sandi.")
            else:
                refusal = "Nama pengguna atau kata sandi salah."
        elif not staff.active:
            refusal = "Akun ini tidak aktif. Hubungi admin."
        else:
            staff.failed_logins, staff.locked_until, staff.last_login_at = 0, None, now
            if _hasher.check_needs_rehash(staff.password_hash):
                staff.password_hash = hash_password(password)
            await session.execute(delete(StaffSession).where(  # this account's stale ones
                StaffSession.staff_id == staff.id, StaffSession.expires_at <= now))
            token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
            row = StaffSession(token_hash=token_hash(token), staff_id=staff.id, csrf_token=csrf,
                               created_at=now, expires_at=now + ttl)
            session.add(row)
            who = _signed_in(staff, row, (await positions_of(session, [staff.id]))[staff.id])
    # Raised after the commit: the failed-attempt counter must be stored.
    if refusal is not None:
        raise StaffError(refusal)
    return token, who


def _verify(hashed: str, password: str) -> bool:
    try:
        return _hasher.verify(hashed, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def _signed_in(staff: Staff, row: StaffSession, positions: Sequence[str]) -> SignedIn:
    return SignedIn(staff_id=staff.id, username=staff.username, full_name=staff.full_name,
                    role=staff.role, region=staff.region, csrf=row.csrf_token,
                    expires_at=row.expires_at, positions=frozenset(positions),
                    nip=staff.nip, lang=staff.lang)


async def resolve(
    sessions: async_sessionmaker[AsyncSession], *, token: str, now: datetime,
) -> SignedIn | None:
    """Who this cookie belongs to; None when unknown, expired or the account is inactive."""
    async with sessions() as session:
        found = (await session.execute(
            select(StaffSession, Staff).join(Staff, Staff.id == StaffSession.staff_id)
            .where(StaffSession.token_hash == token_hash(token)))).first()
        if found is None:
            return None
        row, staff = found
        if row.expires_at <= now or not staff.active:
            return None
        return _signed_in(staff, row, (await positions_of(session, [staff.id]))[staff.id])


async def logout(sessions: async_sessionmaker[AsyncSession], *, token: str) -> None:
    async with sessions() as session, session.begin():
        await session.execute(
            delete(StaffSession).where(StaffSession.token_hash == token_hash(token)))


async def purge_expired(sessions: async_sessionmaker[AsyncSession], *, now: datetime) -> int:
    async with sessions() as session, session.begin():
        result = await session.execute(delete(StaffSession).where(StaffSession.expires_at <= now))
    return int(getattr(result, "rowcount", 0) or 0)


async def list_staff(sessions: async_sessionmaker[AsyncSession], *,
                     actor: SignedIn) -> list[Staff]:
    async with sessions() as session:
        q = select(Staff).order_by(Staff.region, Staff.role, Staff.username)
        if actor.region != ALL_REGIONS:
            q = q.where(Staff.region == actor.region)
        return list((await session.scalars(q)).all())
