"""ID numbers at rest: ciphertext in the database, the plain value in Python, keys rotated without losing a row."""
from __future__ import annotations

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, insert, select, text, update

from gis.core import crypto
from gis.core.errors import SetupRequired

ID_NUMBER = "350203198807150012"


@pytest.fixture
def keys(monkeypatch):
    old, new = crypto.new_key(), crypto.new_key()
    monkeypatch.setenv(crypto.KEYS_ENV, old)
    return old, new


@pytest.fixture
def people(session):
    """A table with an encrypted ID-number column, as the residents' table of a later issue will have."""
    table = Table("crypto_people", MetaData(), Column("id", Integer, primary_key=True),
                  Column("id_number", crypto.EncryptedText()))
    table.create(session.connection())
    return table


def test_an_id_number_is_stored_as_ciphertext_and_read_back_plain(session, keys, people):
    session.execute(insert(people).values(id=1, id_number=ID_NUMBER))
    stored = session.execute(text("SELECT id_number FROM crypto_people")).scalar_one()
    assert ID_NUMBER not in stored and "3502" not in stored
    assert session.execute(select(people.c.id_number)).scalar_one() == ID_NUMBER


def test_rotation_reads_old_rows_writes_new_ones_and_reencrypts(session, keys, people, monkeypatch):
    old, new = keys
    session.execute(insert(people).values(id=1, id_number=ID_NUMBER))
    monkeypatch.setenv(crypto.KEYS_ENV, f"{new},{old}")  # step 1: the new key in front
    assert session.execute(select(people.c.id_number)).scalar_one() == ID_NUMBER
    raw = session.execute(text("SELECT id_number FROM crypto_people")).scalar_one()
    session.execute(text("UPDATE crypto_people SET id_number = :v"), {"v": crypto.reencrypt(raw)})  # step 2
    monkeypatch.setenv(crypto.KEYS_ENV, new)  # step 3: the old key dropped
    assert session.execute(select(people.c.id_number)).scalar_one() == ID_NUMBER
    session.execute(update(people).values(id_number="11010519491231002X"))
    assert session.execute(select(people.c.id_number)).scalar_one() == "11010519491231002X"


def test_a_value_no_key_decrypts_is_a_clear_setup_error(session, keys, people, monkeypatch):
    session.execute(insert(people).values(id=1, id_number=ID_NUMBER))
    monkeypatch.setenv(crypto.KEYS_ENV, crypto.new_key())
    with pytest.raises(SetupRequired, match="unreadable"):
        session.execute(select(people.c.id_number)).scalar_one()


def test_without_a_key_nothing_is_written_in_the_clear(session, people, monkeypatch):
    monkeypatch.delenv(crypto.KEYS_ENV, raising=False)
    with pytest.raises(Exception, match="No key for personal data"):
        session.execute(insert(people).values(id=1, id_number=ID_NUMBER))


def test_the_blind_index_matches_equal_numbers_only_and_needs_its_key():
    key = "a long random index key"
    assert crypto.blind_index(ID_NUMBER, key) == crypto.blind_index(f" {ID_NUMBER.lower()} ", key)
    assert crypto.blind_index(ID_NUMBER, key) != crypto.blind_index("350203198807150020", key)
    assert ID_NUMBER not in crypto.blind_index(ID_NUMBER, key)
    assert crypto.blind_index(ID_NUMBER, key) != crypto.blind_index(ID_NUMBER, "another key")
