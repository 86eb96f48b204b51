"""Schemas of the project's own making for what the model is told (goexdb.schema): a rental
shop of 15 tables whose payment table has 54 monthly partitions, with an enum, a domain and
views; and one of 500 tables."""

from __future__ import annotations

RENTAL_TABLES = {
    "actor": "actor_id int PRIMARY KEY, first_name text NOT NULL, last_name text NOT NULL, "
    "last_update timestamptz NOT NULL DEFAULT now()",
    "category": "category_id int PRIMARY KEY, name text NOT NULL, last_update timestamptz",
    "language": "language_id int PRIMARY KEY, name char(20) NOT NULL, last_update timestamptz",
    "film": "film_id int PRIMARY KEY, title text NOT NULL, description text, "
    "release_year {s}.year, language_id int REFERENCES {s}.language, rental_duration smallint, "
    "rental_rate numeric(4,2), length smallint, replacement_cost numeric(5,2), "
    "rating {s}.mpaa_rating DEFAULT 'G', last_update timestamptz, special_features text[]",
    "film_actor": "actor_id int REFERENCES {s}.actor, film_id int REFERENCES {s}.film, "
    "last_update timestamptz, PRIMARY KEY (actor_id, film_id)",
    "film_category": "film_id int REFERENCES {s}.film, category_id int REFERENCES {s}.category, "
    "last_update timestamptz, PRIMARY KEY (film_id, category_id)",
    "country": "country_id int PRIMARY KEY, country text NOT NULL, last_update timestamptz",
    "city": "city_id int PRIMARY KEY, city text NOT NULL, country_id int REFERENCES "
    "{s}.country, last_update timestamptz",
    "address": "address_id int PRIMARY KEY, address text NOT NULL, address2 text, "
    "district text, city_id int REFERENCES {s}.city, postal_code text, phone text, "
    "last_update timestamptz",
    "store": "store_id int PRIMARY KEY, manager_staff_id int, address_id int REFERENCES "
    "{s}.address, last_update timestamptz",
    "staff": "staff_id int PRIMARY KEY, first_name text, last_name text, address_id int, "
    "email text, store_id int, active boolean, username text, password text, "
    "last_update timestamptz, picture bytea",
    "customer": "customer_id int PRIMARY KEY, store_id int, first_name text NOT NULL, "
    "last_name text NOT NULL, email text, address_id int, activebool boolean, "
    "create_date date, last_update timestamptz, active int",
    "inventory": "inventory_id int PRIMARY KEY, film_id int REFERENCES {s}.film, "
    "store_id int, last_update timestamptz",
    "rental": "rental_id int PRIMARY KEY, rental_date timestamptz NOT NULL, inventory_id int, "
    "customer_id int, return_date timestamptz, staff_id int, last_update timestamptz",
}
PAYMENT = (
    "CREATE TABLE {s}.payment (payment_id int NOT NULL, customer_id int NOT NULL, "
    "staff_id int NOT NULL, rental_id int NOT NULL, amount numeric(5,2) NOT NULL, "
    "payment_date timestamptz NOT NULL, PRIMARY KEY (payment_date, payment_id)) "
    "PARTITION BY RANGE (payment_date)"
)
MONTHS = 54


def rental_schema(s: str) -> list[str]:
    """The statements that build the rental shop in schema ``s``."""
    statements = [
        f"CREATE TYPE {s}.mpaa_rating AS ENUM ('G', 'PG', 'PG-13', 'R', 'NC-17')",
        f"CREATE DOMAIN {s}.year AS integer CHECK (VALUE >= 1901 AND VALUE <= 2155)",
    ]
    statements += [
        f"CREATE TABLE {s}.{name} ({columns.format(s=s)})"
        for name, columns in RENTAL_TABLES.items()
    ]
    statements.append(PAYMENT.format(s=s))
    for month in range(MONTHS):
        year, mon = 2022 + month // 12, month % 12 + 1
        end_year, end_mon = (year, mon + 1) if mon < 12 else (year + 1, 1)
        statements.append(
            f"CREATE TABLE {s}.payment_p{year}_{mon:02d} PARTITION OF {s}.payment "
            f"FOR VALUES FROM ('{year}-{mon:02d}-01') TO ('{end_year}-{end_mon:02d}-01')"
        )
    statements += [
        f"CREATE VIEW {s}.customer_list AS SELECT c.customer_id AS id, "
        f"c.first_name || ' ' || c.last_name AS name, a.address, a.phone "
        f"FROM {s}.customer c JOIN {s}.address a USING (address_id)",
        f"CREATE VIEW {s}.sales_by_store AS SELECT s.store_id, sum(p.amount) AS total_sales "
        f"FROM {s}.payment p JOIN {s}.staff st USING (staff_id) JOIN {s}.store s "
        "ON s.store_id = st.store_id GROUP BY s.store_id",
    ]
    return statements


def wide_schema(s: str, tables: int = 500) -> list[str]:
    """``tables`` tables of ten columns each, named for what they might hold."""
    topics = ["invoice", "shipment", "ledger", "audit", "metric", "session", "ticket", "asset"]
    return [
        f"CREATE TABLE {s}.{topics[i % len(topics)]}_{i:03d} (id bigint PRIMARY KEY, "
        + ", ".join(f"{topics[(i + k) % len(topics)]}_field_{k} text" for k in range(1, 10))
        + ")"
        for i in range(tables)
    ]
