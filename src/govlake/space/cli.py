"""`govlake space`: 产业空间撮合 from the command line."""

from __future__ import annotations

import datetime as dt

import click


def _lake():
    from govlake.lakehouse import Lakehouse
    from govlake.settings import get_settings

    return Lakehouse(None, get_settings())


def _day(s: str | None) -> dt.date:
    return dt.date.fromisoformat(s) if s else dt.date.today()


@click.group()
def space() -> None:
    """产业空间撮合: parks (园区), space needs (空间需求), two-way matching."""


@space.command("generate")
@click.option("--parks", "n", default=None, type=int,
              help="write N generated parks instead of the ingested inventory (a demo lake without landing)")
@click.option("--seed", default=None, type=int, help="seed of the generated parks (with --parks)")
@click.option("--as-of", default=None, help="YYYY-MM-DD (default today)")
def generate_cmd(n, seed, as_of) -> None:
    """Write gold.industrial_parks (from bronze.industrial_parks, the ingested inventory; or
    generated with --parks) and gold.space_needs (from the released profile), each through its
    quality gate, then release them (发布版本)."""
    from govlake import release
    from govlake.services.table_gate import TableGate
    from govlake.space.inventory import write_needs, write_parks
    from govlake.generate.parks import SEED, generate_parks

    lake, day = _lake(), _day(as_of)
    gate = TableGate(lake)
    given = generate_parks(n, SEED if seed is None else seed, day) if n else None
    try:
        parks = write_parks(lake, day, gate=gate, parks=given)
    except FileNotFoundError as e:
        raise click.ClickException(str(e))
    needs = write_needs(lake, day, gate=gate)
    gate.flush()
    rel = release.publish(lake, f"space-generate@{day}", {w["table"]: w["version"] for w in (parks, needs)}, step="space")
    click.echo(parks)
    click.echo(needs)
    click.echo(f"release {rel.release_id}")


@space.command("search")
@click.option("--street", default=None, help="street code or name, e.g. 西乡街道")
@click.option("--max-rent", type=float, default=None, help="元/㎡·月")
@click.option("--min-area", type=float, default=None, help="vacant ㎡")
@click.option("--type", "btype", default=None, help="厂房 | 研发用房 | 办公 | 仓储")
@click.option("--limit", default=20, show_default=True)
def search_cmd(street, max_rent, min_area, btype, limit) -> None:
    """Parks by street, rent, vacant area and type, cheapest first."""
    from govlake.space.inventory import PARKS, read
    from govlake.space.matching import search_parks

    hits = search_parks(read(_lake(), PARKS), street=street, max_rent=max_rent, min_area=min_area, building_type=btype)
    click.echo(f"{len(hits)} parks (园区)")
    for _, p in hits.head(limit).iterrows():
        click.echo(f"{p.park_id} {p.park_name} {p.street_name} {p.building_type} 租金{p.rent_yuan_sqm:g}元/㎡·月 "
                   f"空置{p.vacant_area_sqm:,.0f}㎡ 层高{p.floor_height_m:g}m 货梯{p.elevator_load_kg}kg "
                   f"配电{p.power_kva}kVA 环评{p.eia_class} {p.contact_name} {p.contact_phone}")


@space.command("needs")
@click.option("--limit", default=20, show_default=True)
def needs_cmd(limit) -> None:
    """Space needs (空间需求) of growing enterprises."""
    from govlake.space.inventory import NEEDS, read

    from govlake.space.streets import street_names

    needs, names = read(_lake(), NEEDS), street_names()
    click.echo(f"{len(needs)} needs (空间需求)")
    for _, n in needs.head(limit).iterrows():
        click.echo(f"{n.need_id} {n.ent_name} {n.building_type} {n.min_area_sqm:,.0f}-{n.max_area_sqm:,.0f}㎡ "
                   f"≤{n.max_rent_yuan_sqm:g}元 意向{'、'.join(names.get(c, c) for c in n.preferred_streets)} {n.move_in_by} {n.reason_zh}")


@space.command("match")
@click.option("--as-of", default=None, help="YYYY-MM-DD (default today)")
@click.option("--need", "need_id", default=None, help="show the ranked parks of one need")
@click.option("--park", "park_id", default=None, help="show the ranked needs of one park")
@click.option("--limit", default=5, show_default=True)
def match_cmd(as_of, need_id, park_id, limit) -> None:
    """Write gold.space_matches (top 5 parks per need), or rank one side with --need / --park."""
    from govlake.space.inventory import NEEDS, PARKS, read
    from govlake.space.matching import needs_for_park, parks_for_need, record, run_space_matching

    lake = _lake()
    if not (need_id or park_id):
        from govlake import release
        from govlake.services.table_gate import TableGate

        gate = TableGate(lake)
        out = run_space_matching(lake, _day(as_of), gate=gate)
        gate.flush()
        rel = release.publish(lake, f"space-match@{_day(as_of)}", {out["table"]: out["version"]}, step="space")
        click.echo({**out, "release": rel.release_id})
        return
    parks, needs = read(lake, PARKS), read(lake, NEEDS)
    if need_id:
        rows = needs[needs["need_id"] == need_id]
        if rows.empty:
            raise click.ClickException(f"unknown need {need_id} (空间需求不存在)")
        for m in parks_for_need(record(rows.iloc[0]), parks, limit):
            click.echo(f"{m['rank']}. {m['park_id']} {m['park_name']} {m['score']:g}分 {m['reasons_zh']}")
    if park_id:
        rows = parks[parks["park_id"] == park_id]
        if rows.empty:
            raise click.ClickException(f"unknown park {park_id} (园区不存在)")
        for m in needs_for_park(record(rows.iloc[0]), needs, limit):
            click.echo(f"{m['rank']}. {m['need_id']} {m['ent_name']} {m['score']:g}分 {m['reasons_zh']}")
