"""Market study: efficiency by strategy mix, EGTA equilibria, PSRO exploitability bounds, and
learned traders' exploitability bounds beside the EGTA equilibrium's.

Tidy tables, each with its figure (data first; pure ``plot_*(rows, ax=None)`` functions
under :func:`gametools.plotting.paper_style`):

``market_efficiency.csv`` / ``market_efficiency``
    Allocative efficiency (mean and standard error over episodes) of homogeneous strategy
    mixes: Gode and Sunder's (1993) ``double_auction`` with ``zi_c``, ``zi_u`` and ``zip``, and
    the ``order_book`` market with ZI background traders, with and without a ladder market
    maker.
``market_egta.csv`` / ``market_egta``
    The most stable certified equilibrium of the DPR-reduced background-trader game
    (:func:`gametools.market.egta.run_egta`) by number of agents and market-maker presence:
    each strategy's probability, the regret and its one-sided 95% bootstrap upper bound.
``market_maker_welfare.csv`` / ``market_maker_welfare``
    Wah, Wright and Wellman's (2017) question: total surplus (realised gains from trade, the
    market maker's profit included), background traders' surplus and the market maker's
    profit, with and without one ladder market maker (``mm``), in a thin market (8 background
    traders) and a thick one (64), ZI background traders (``zi_0_1000``) and the same
    private values, arrivals and fundamental paths in both arms (same seed), so each row also
    carries the paired change in total surplus and its standard error. They report (abstract
    and Sec. 6, equilibrium strategies of 66-trader markets): the market maker "strongly tends
    to increase total surplus across a variety of environments", its profit may or may not
    exceed the welfare gain, and background traders gain in thin markets with impatient
    traders. Measured here (1000 arrivals, 256 episodes, seed 0, fixed ZI strategies rather
    than their equilibria): thin market +474 ticks total surplus (3636 -> 4110, +13%),
    thick market +292 (36301 -> 36593, +0.8%, within noise); the market maker loses money in
    both (-2673 and -1863), so background traders gain more than the total.
``market_maker_equilibrium_welfare.csv`` / ``market_maker_equilibrium_welfare``
    The same comparison at *equilibrium* background strategies
    (:func:`market_maker_equilibrium_rows`): in each market, with and without the market maker,
    the background traders' EGTA game over :data:`BACKGROUND` is solved and the market
    simulated with strategies drawn from its lowest-regret certified equilibrium, printed
    beside Wah, Wright and Wellman's findings. Measured (1000 arrivals, 256 episodes, 16
    samples per profile, seed 0): thin market, equilibrium zi_250_1000 0.89 / zip 0.11 without
    and zi_0_250 0.15 / zi_0_1000 0.67 / zip 0.19 with the market maker, total surplus
    3424 -> 3999 (+575 +- 87, +17%), background surplus 3424 -> 6481, market maker -2482;
    thick market, zi_250_1000 without and zi_0_250 0.13 / zi_0_1000 0.50 / zip 0.37 with,
    total surplus 32645 -> 36780 (+4135 +- 144, +13%), background surplus 32645 -> 38199,
    market maker -1419. As Wah, Wright and Wellman report, the market maker raises total
    surplus in both; here background traders gain in both (the market maker loses money), and
    at equilibrium strategies the thick market's gain is far larger than with fixed ZI
    strategies (+0.8%): the background traders' equilibrium shifts towards less shading when
    the market maker is present. The equilibria's regret upper bounds are wide (900-3300 ticks
    at 95%), so the mixtures are uncertain.
``market_learned_agents.csv`` / ``market_learned_agents``
    Learned traders' exploitability lower bounds beside the EGTA equilibrium's
    (:func:`learned_agent_rows`): in the EGTA part's 16-agent market with one market maker,
    the background traders learn by self-play with MAPPO, IPPO and IQL (quick: MAPPO, IPPO);
    then, for the market where every background trader plays a learned policy and for the one
    where they draw from the EGTA equilibrium, a best response is trained (MAPPO, the same
    budget and seeds for every row: 196608 decisions over 1024 markets in the full study,
    8192 over 256 in the quick one) and its gain estimated from paired episodes (4096; 512)
    (:func:`gametools.market.psro.exploitability_lower_bound`). Each row: the gain, its
    standard error, its one-sided 95% lower bound and ``exploitability_lower_bound = max(0,
    lower)`` ("exploitability >= x, 95% one-sided"; a lower bound only: a better best response
    may gain more), and for the equilibrium its regret in the EGTA game (library deviations
    only) with the bootstrap upper bound. The learned policies are kept as
    ``learned/<algo>.pt`` (``learned:PATH`` strategies). Measured (full budget, seed 0;
    equilibrium zi_0_1000, EGTA regret 0 with upper bound 2978): the EGTA equilibrium's best
    response gains 538 +- 54 ticks (exploitability >= 449, 95% one-sided); against the
    self-play traders it gains 83 +- 51 (MAPPO), 69 +- 53 (IPPO) and -181 +- 47 (IQL: the
    best response earns less than the IQL traders themselves), so no bound above 0: the
    learned traders are not shown exploitable by this oracle, the library's equilibrium is.
``market_psro.csv`` / ``market_psro``
    PSRO (:func:`gametools.market.psro.run_psro`) iterations: the best response's gain over the
    meta-equilibrium with its standard error, and the one-sided 95% lower bound on the
    meta-equilibrium's exploitability. ``--psro DIR`` reads a finished run (e.g. the one
    ``bench/bench_market.py --section psro --out DIR`` leaves) instead of running one.

Run ``python -m analyses.market_study --quick --out runs/market`` (a few minutes on two cores)
or without ``--quick`` (larger markets, more episodes). Nothing runs at import.

References: Gode and Sunder (1993), JPE 101(1); Wellman (2006), AAAI; Wiedenbeck and Wellman
(2012), AAMAS; Lanctot et al. (2017), NeurIPS; Wah, Wright and Wellman (2017), JAAMAS 31.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["efficiency_rows", "egta_market", "egta_rows", "egta_equilibrium",
           "exploitability_rows", "learned_agent_rows", "plot_learned_bounds",
           "market_maker_rows",
           "market_maker_equilibrium_rows", "print_market_maker_comparison", "psro_rows",
           "read_psro",
           "run_psro_rows", "plot_efficiency", "plot_market_maker",
           "plot_egta_equilibria", "plot_psro_bounds", "write_rows", "main"]

#: the background-trader strategies of the EGTA and PSRO parts
BACKGROUND = ("zi_0_250", "zi_0_1000", "zi_250_1000", "zip")


def efficiency_rows(*, quick: bool, seed: int = 0) -> list[dict[str, Any]]:
    """Allocative efficiency of homogeneous mixes (one row per market and strategy)."""
    from gametools.market import simulate
    from gametools.market.strategies import assign_strategies
    from gametools.scenarios import get_scenario

    episodes = 64 if quick else 400
    rows = []
    auction = get_scenario("double_auction").build()
    for name in ("zi_c", "zi_u", "zip"):
        stats = simulate(auction, assign_strategies(auction, [name]), episodes=episodes,
                         seed=seed).summary()["allocative_efficiency"]
        rows.append({"market": "double_auction", "strategy": name, "market_maker": False,
                     "agents": auction.num_agents, "efficiency": stats["mean"],
                     "stderr": stats["stderr"], "episodes": stats["n"]})
    background = 15 if quick else 63
    for makers in (0, 1):
        book = get_scenario("order_book").build(n_background=background,
                                                 n_market_makers=makers,
                                                 n_arrivals=100 if quick else 500)
        for name in BACKGROUND:
            stats = simulate(book, assign_strategies(book, [name]), episodes=episodes // 2,
                             seed=seed).summary()["allocative_efficiency"]
            rows.append({"market": "order_book", "strategy": name, "market_maker": bool(makers),
                         "agents": book.num_agents, "efficiency": stats["mean"],
                         "stderr": stats["stderr"], "episodes": stats["n"]})
    return rows


#: the thin and thick markets of the market-maker comparison: name and background traders
MARKET_MAKER_MARKETS = (("thin", 8), ("thick", 64))


def market_maker_rows(*, quick: bool, seed: int = 0,
                      markets: Sequence[tuple[str, int]] = MARKET_MAKER_MARKETS
                      ) -> list[dict[str, Any]]:
    """Surplus with and without a market maker in a thin and a thick market (module
    docstring), one row per (market, market maker)."""
    from gametools.market import simulate
    from gametools.market.strategies import assign_strategies
    from gametools.scenarios import get_scenario

    episodes, arrivals = (64, 300) if quick else (256, 1000)
    rows = []
    for market, background in markets:
        totals = {}
        for makers in (0, 1):
            book = get_scenario("order_book").build(n_background=background,
                                                     n_market_makers=makers,
                                                     n_arrivals=arrivals)
            stats = simulate(book, assign_strategies(book, []), episodes=episodes, seed=seed)
            total = stats.profits.sum(axis=1)
            totals[makers] = total
            change = total - totals[0]
            rows.append({
                "market": market, "background_traders": background,
                "market_maker": bool(makers), "arrivals": arrivals, "episodes": episodes,
                "total_surplus": float(total.mean()),
                "total_surplus_stderr": float(total.std(ddof=1) / np.sqrt(episodes)),
                "background_surplus": float(stats.profits[:, :background].sum(1).mean()),
                "market_maker_profit": float(stats.profits[:, background:].sum(1).mean()),
                "efficiency": float(np.nanmean(stats.values["allocative_efficiency"])),
                "total_change": float(change.mean()),
                "total_change_stderr": float(change.std(ddof=1) / np.sqrt(episodes))})
    return rows


#: what Wah, Wright and Wellman (2017) report on the market maker's welfare effect, by market
#: thickness (abstract and Sec. 6; their markets: 66 background traders and fewer arrivals for
#: the thin ones, equilibria over 12 ZIR strategies; the designs differ from ``order_book``, so
#: the comparison is of signs, not magnitudes)
WAH_WRIGHT_WELLMAN = {
    "thin": {"total_surplus": "increases",
             "background_surplus": "increases (thin markets, impatient traders)"},
    "thick": {"total_surplus": "increases",
              "background_surplus": "ambiguous (market maker's profit may exceed the gain)"},
}


def market_maker_equilibrium_rows(*, quick: bool, seed: int = 0,
                                  markets: Sequence[tuple[str, int]] = MARKET_MAKER_MARKETS,
                                  out: Path | None = None,
                                  strategies: Sequence[str] | None = None,
                                  arrivals: int | None = None, episodes: int | None = None,
                                  samples: int | None = None) -> list[dict[str, Any]]:
    """Wah, Wright and Wellman's comparison at *equilibrium* background strategies: in each
    market, with and without one ladder market maker (``mm``), the background traders' game
    over :data:`BACKGROUND` is solved by EGTA (DPR, replicator dynamics; the lowest-regret
    certified equilibrium) and the market is simulated with every background trader drawing
    its strategy from that equilibrium mixture. One row per (market, market maker), with the
    equilibrium, its regret bound, the surplus split and the change in total surplus against
    the market without a market maker (same seed: same private values and fundamental paths),
    beside what Wah, Wright and Wellman report (:data:`WAH_WRIGHT_WELLMAN`). A market whose
    game has no certified equilibrium gets a row with ``certified`` False and NaN numbers.
    ``strategies``, ``arrivals``, ``episodes`` and ``samples`` (per EGTA profile) override the
    ``quick`` settings."""
    from gametools.market.egta import run_egta, sample_opponents
    from gametools.market.simulator import simulate_profiles
    from gametools.market.strategies import make_strategy
    from gametools.scenarios import get_scenario

    default = (64, 300, 8) if quick else (256, 1000, 16)
    episodes, arrivals, samples = (given or value for given, value in
                                   zip((episodes, arrivals, samples), default))
    strategies = list(strategies or (BACKGROUND[:3] if quick else BACKGROUND))
    objects = {name: make_strategy(name) for name in [*strategies, "mm"]}
    rows = []
    for market, background in markets:
        totals: dict[int, np.ndarray] = {}
        for makers in (0, 1):
            config = get_scenario("order_book").build(n_background=background,
                                                      n_market_makers=makers,
                                                      n_arrivals=arrivals)
            sets = [strategies, ["mm"] if makers else []]
            folder = None if out is None else out / f"egta_welfare_{market}_{makers}"
            result = run_egta(config, sets, samples=samples, seed=seed, out=folder,
                              bootstrap=50 if quick else 200)
            certified = [e for e in result.equilibria if e.solver_status == "success"]
            row: dict[str, Any] = {"market": market, "background_traders": background,
                                   "market_maker": bool(makers), "arrivals": arrivals,
                                   "episodes": episodes, "certified": bool(certified)}
            if not certified:
                rows.append({**row, "equilibrium": "", "regret_upper": float("nan"),
                             "total_surplus": float("nan"), "total_change": float("nan")})
                continue
            best = min(certified, key=lambda e: e.regret)
            names = sample_opponents(config, sets, [list(m) for m in best.mixture], [],
                                     count=episodes, rng=np.random.default_rng(seed))
            profiles = [[objects[str(name)] for name in agents] for agents in names]
            stats = simulate_profiles(config, profiles, episodes=1, seed=seed)
            total = stats.profits.sum(axis=1)
            totals[makers] = total
            change = total - totals[0] if 0 in totals else np.full(episodes, np.nan)
            rows.append({
                **row,
                "equilibrium": " ".join(f"{name}:{p:.3f}" for name, p in
                                        zip(strategies, best.mixture[0]) if p > 1e-3),
                "regret_upper": float(best.regret_interval[1]),
                "total_surplus": float(total.mean()),
                "total_surplus_stderr": float(total.std(ddof=1) / np.sqrt(episodes)),
                "background_surplus": float(stats.profits[:, :background].sum(1).mean()),
                "market_maker_profit": float(stats.profits[:, background:].sum(1).mean()),
                "total_change": float(change.mean()),
                "total_change_stderr": float(change.std(ddof=1) / np.sqrt(episodes)),
                "wah_wright_wellman_total": WAH_WRIGHT_WELLMAN.get(market, {}).get(
                    "total_surplus", ""),
                "wah_wright_wellman_background": WAH_WRIGHT_WELLMAN.get(market, {}).get(
                    "background_surplus", "")})
    return rows


def print_market_maker_comparison(rows: Sequence[Mapping[str, Any]]) -> None:
    """The equilibrium welfare rows beside Wah, Wright and Wellman's findings, as text."""
    for row in rows:
        if not row.get("market_maker"):
            continue
        market = str(row["market"])
        base = next((r for r in rows if r["market"] == market and not r["market_maker"]), None)
        if base is None or not row.get("certified") or not base.get("certified"):
            print(f"{market}: no certified equilibrium in one of the two markets")
            continue
        reported = WAH_WRIGHT_WELLMAN.get(market, {})
        print(f"{market} market ({row['background_traders']} background traders), equilibrium "
              f"strategies: total surplus {base['total_surplus']:.0f} -> "
              f"{row['total_surplus']:.0f} ({row['total_change']:+.0f} +- "
              f"{row['total_change_stderr']:.0f}); background surplus "
              f"{base['background_surplus']:.0f} -> {row['background_surplus']:.0f}; market "
              f"maker profit {row['market_maker_profit']:.0f}. Wah, Wright and Wellman: total "
              f"surplus {reported.get('total_surplus', '?')}, background surplus "
              f"{reported.get('background_surplus', '?')}")


def plot_market_maker(rows: Sequence[Mapping[str, Any]], *, ax: Any = None) -> Any:
    """Total surplus with and without a market maker (95% normal intervals), per market,
    relative to the market without one."""
    import matplotlib.pyplot as plt

    ax = ax or plt.subplots(figsize=(4.0, 3.2))[1]
    markets = list(dict.fromkeys(str(r["market"]) for r in rows))
    for k, market in enumerate(markets):
        mine = {bool(r["market_maker"]): r for r in rows if r["market"] == market}
        base = float(mine[False]["total_surplus"])
        for j, makers in enumerate((False, True)):
            row = mine[makers]
            ax.bar(k + 0.4 * j - 0.2, float(row["total_surplus"]) / base, width=0.38,
                   yerr=1.96 * float(row["total_surplus_stderr"]) / base, capsize=2,
                   color="C2" if makers else "C1", label=("with mm" if makers else "no mm")
                   if k == 0 else None)
    ax.axhline(1.0, color="0.5", linewidth=0.8, linestyle="--")
    ax.set_xticks(range(len(markets)))
    ax.set_xticklabels([f"{m} market" for m in markets])
    ax.set_ylabel("total surplus / without market maker")
    ax.legend(frameon=False, fontsize=7)
    return ax


def egta_market(agents: int, makers: int, *, quick: bool) -> Any:
    """The ``order_book`` market of the EGTA part: ``agents`` agents of which ``makers``
    ladder market makers, 100 arrivals (``quick``) or 200."""
    from gametools.scenarios import get_scenario

    return get_scenario("order_book").build(n_background=agents - makers,
                                            n_market_makers=makers,
                                            n_arrivals=100 if quick else 200)


def egta_rows(*, quick: bool, seed: int = 0, out: Path | None = None) -> list[dict[str, Any]]:
    """The lowest-regret certified equilibrium per (agents, market maker) market."""
    from gametools.market.egta import run_egta

    sizes = (16,) if quick else (16, 64)
    strategies = BACKGROUND[:3] if quick else BACKGROUND
    rows = []
    for agents in sizes:
        for makers in (0, 1):
            config = egta_market(agents, makers, quick=quick)
            folder = None if out is None else out / f"egta_{agents}_{makers}"
            result = run_egta(config, [list(strategies), ["mm"] if makers else []],
                              samples=8 if quick else 16, seed=seed, out=folder,
                              bootstrap=50 if quick else 200)
            certified = [e for e in result.equilibria if e.solver_status == "success"]
            if not certified:
                rows.append({"agents": agents, "market_maker": bool(makers), "strategy": "",
                             "probability": float("nan"), "regret": float("nan"),
                             "regret_upper": float("nan"), "certified": False})
                continue
            best = certified[0]
            for name, p in zip(strategies, best.mixture[0]):
                rows.append({"agents": agents, "market_maker": bool(makers), "strategy": name,
                             "probability": p, "regret": best.regret,
                             "regret_upper": best.regret_interval[1], "certified": True})
    return rows


#: the learners whose traders the learned-agent part trains (quick mode: the first two)
LEARNED_ALGORITHMS = ("mappo", "ippo", "iql")
#: the market of the learned-agent part: the EGTA part's 16-agent market with its market maker
LEARNED_MARKET = (16, 1)


def egta_equilibrium(rows: Sequence[Mapping[str, Any]], agents: int, makers: int
                     ) -> tuple[dict[str, float], float, float] | None:
    """The background traders' equilibrium mixture {strategy: probability}, its regret and
    the regret's upper bound, read from :func:`egta_rows` (None when not certified)."""
    mine = [r for r in rows if int(r["agents"]) == agents
            and bool(r["market_maker"]) == bool(makers)]
    # rows read back from market_egta.csv carry the flag as text
    if not mine or not all(r.get("certified") in (True, "True") for r in mine):
        return None
    mixture = {str(r["strategy"]): float(r["probability"]) for r in mine if r["strategy"]}
    total = sum(mixture.values())
    if not mixture or not total > 0:
        return None
    return ({name: p / total for name, p in mixture.items() if p > 0},
            float(mine[0]["regret"]), float(mine[0]["regret_upper"]))


def exploitability_rows(config: Any, role: str, equilibrium: Mapping[str, float],
                        agents: Mapping[str, tuple[str, Any]], *,
                        others: Mapping[str, Mapping[str, float]] | None = None,
                        algorithm: str = "mappo", steps: int = 8192, num_envs: int = 256,
                        episodes: int = 1024, confidence: float = 0.95, seed: int = 0,
                        egta_regret: tuple[float, float] | None = None,
                        market: str = "") -> list[dict[str, Any]]:
    """Exploitability lower bounds of an equilibrium mixture and of other strategies of
    ``role``, measured alike.

    For the equilibrium (``equilibrium``: {strategy: probability}, every agent of ``role``
    drawing from it) and for each of ``agents`` (label -> (kind, strategy or name); every
    agent of ``role`` playing it), the other roles play ``others`` (their equilibrium
    strategies), a best response is trained with ``algorithm`` (``steps`` decisions over
    ``num_envs`` markets, the same seeds for every row) and its gain estimated from
    ``episodes`` paired episodes: :func:`gametools.market.psro.exploitability_lower_bound`.
    ``exploitability_lower_bound`` is ``max(0, lower)``: the profile's exploitability (the
    regret of one of its agents) is at least this with probability ``confidence``, one-sided.
    It is a lower bound only: a better-trained best response may gain more. ``egta_regret``
    (point, upper bound) is the equilibrium's regret in the EGTA game (library deviations
    only), carried on its row for comparison.
    """
    import time

    from gametools.market.psro import exploitability_lower_bound

    nan = float("nan")
    rows = []
    evaluated: list[tuple[str, str, Any]] = [("EGTA equilibrium", "equilibrium",
                                               dict(equilibrium))]
    evaluated += [(label, kind, strategy) for label, (kind, strategy) in agents.items()]
    for label, kind, strategy in evaluated:
        wall, cpu = time.perf_counter(), time.process_time()
        gain = exploitability_lower_bound(config, role, strategy, algorithm=algorithm,
                                          others=others, steps=steps, num_envs=num_envs,
                                          episodes=episodes, confidence=confidence, seed=seed)
        bound = max(0.0, gain.lower)
        if kind == "equilibrium":
            played = " ".join(f"{name}:{p:.3f}" for name, p in equilibrium.items()
                              if p > 1e-3)
        else:
            played = strategy if isinstance(strategy, str) else str(strategy.name)
        rows.append({
            "market": market, "role": role, "agent": label, "kind": kind, "strategy": played,
            "best_response_algorithm": algorithm, "best_response_steps": steps,
            "gain": gain.gain, "stderr": gain.stderr, "lower": gain.lower,
            "confidence": gain.confidence, "episodes": gain.episodes,
            "exploitability_lower_bound": bound,
            "label": f"exploitability >= {bound:.4g} ({100 * gain.confidence:.0f}% one-sided)",
            "candidate_payoff": gain.candidate_payoff, "baseline_payoff": gain.baseline_payoff,
            "egta_regret": egta_regret[0] if egta_regret and kind == "equilibrium" else nan,
            "egta_regret_upper": egta_regret[1] if egta_regret and kind == "equilibrium"
            else nan,
            "seed": seed, "wall_time": time.perf_counter() - wall,
            "cpu_time": time.process_time() - cpu})
    return rows


def learned_agent_rows(*, quick: bool, seed: int = 0,
                       egta: Sequence[Mapping[str, Any]] | None = None,
                       out: Path | None = None,
                       algorithms: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """Learned traders' exploitability lower bounds beside the EGTA equilibrium's.

    In the EGTA part's 16-agent market with one ladder market maker (:data:`LEARNED_MARKET`),
    the 15 background traders learn together (self-play, parameters shared; the market
    maker playing ``mm``, its equilibrium strategy) with each learner of
    :data:`LEARNED_ALGORITHMS` (MAPPO's centralised critic, IPPO's and IQL's independent
    ones); agent 0's policy is the learned trader (saved as ``out/learned/<algo>.pt``, a
    ``learned:PATH`` strategy). Then :func:`exploitability_rows` bounds the exploitability of
    the market where every background trader plays it, and of the market where they draw from
    the EGTA equilibrium (``egta``: :func:`egta_rows`, computed here when not given), with the
    same best-response learner, budget and seeds. A market without a certified equilibrium
    gives no rows.
    """
    import time

    from gametools.market.env import save_learned
    from gametools.market.psro import learned_strategy, train_traders

    agents_count, makers = LEARNED_MARKET
    config = egta_market(agents_count, makers, quick=quick)
    if egta is None:
        egta = [r for r in egta_rows(quick=quick, seed=seed, out=out)
                if int(r["agents"]) == agents_count]
    found = egta_equilibrium(egta, agents_count, makers)
    if found is None:
        print("learned agents: no certified EGTA equilibrium of the "
              f"{agents_count}-agent market; no bounds")
        return []
    equilibrium, regret, regret_upper = found
    role, background = "background", len(config.agents_of("background"))
    others = {"market_maker": {"mm": 1.0}} if makers else None
    algorithms = list(algorithms or (LEARNED_ALGORITHMS[:2] if quick else LEARNED_ALGORITHMS))
    # self-play: one environment step is the next background arrival (~15/16 of all arrivals),
    # so an episode is ~n_arrivals steps; the budget buys 2 (quick) / 4 episodes per market
    envs = 64 if quick else 256
    train_steps = envs * config.n_arrivals * (2 if quick else 4)
    agents: dict[str, tuple[str, Any]] = {}
    timings: dict[str, tuple[float, float]] = {}
    for k, algorithm in enumerate(algorithms):
        wall, cpu = time.perf_counter(), time.process_time()
        learner = train_traders(config, role, [list(equilibrium), ["mm"] if makers else []],
                                [list(equilibrium.values()), [1.0] if makers else []],
                                algorithm=algorithm, controlled=background,
                                steps=train_steps, num_envs=envs, seed=seed * 1_000 + 17 + k)
        name = f"{algorithm}_self_play"
        if out is not None:
            (out / "learned").mkdir(parents=True, exist_ok=True)
            save_learned(out / "learned" / f"{algorithm}.pt", learner, algorithm=algorithm,
                         agent=0, interface=learner.env.interface, role=role)
        agents[f"{algorithm.upper()} traders"] = ("learned",
                                                  learned_strategy(learner, name, role))
        timings[f"{algorithm.upper()} traders"] = (time.perf_counter() - wall,
                                                   time.process_time() - cpu)
    # the best responses get 4x PSRO's default budget in the full study: with PSRO's 49152
    # decisions the best response earned less than the self-play traders it was trained
    # against (negative gains, e.g. -48 +- 53 against MAPPO's), so its bounds said nothing
    budget = {"steps": 8192, "num_envs": 256, "episodes": 512} if quick else \
        {"steps": 4 * 49_152, "num_envs": 1024, "episodes": 4096}
    rows = exploitability_rows(
        config, role, equilibrium, agents, others=others, algorithm="mappo", seed=seed,
        egta_regret=(regret, regret_upper),
        market=f"order_book {agents_count} agents, {makers} market maker(s), "
               f"{config.n_arrivals} arrivals", **budget)  # type: ignore[arg-type]
    for row in rows:
        wall, cpu = timings.get(str(row["agent"]), (0.0, 0.0))
        row["trained_by"] = "egta" if row["kind"] == "equilibrium" else \
            str(row["agent"]).split()[0].lower()
        row["train_steps"] = 0 if row["kind"] == "equilibrium" else train_steps
        row["train_wall_time"], row["train_cpu_time"] = wall, cpu
    return rows


def plot_learned_bounds(rows: Sequence[Mapping[str, Any]], *, ax: Any = None) -> Any:
    """Each evaluated agent's best-response gain (point: the mean) with its one-sided interval
    down to the lower bound (bar), the exploitability lower bound ``max(0, lower)`` (triangle)
    labelled "exploitability >= x (95% one-sided)", and, beside the EGTA equilibrium, its
    regret in the EGTA game (library deviations only) up to its bootstrap upper bound (grey)."""
    import matplotlib.pyplot as plt

    ax = ax or plt.subplots(figsize=(5.0, 3.2))[1]
    tops = [0.0]
    regrets: list[tuple[float, float, float]] = []
    for x, row in enumerate(rows):
        gain, lower = float(row["gain"]), float(row["lower"])
        level = 100 * float(row["confidence"])
        bound = float(row["exploitability_lower_bound"])
        colour = "C0" if row["kind"] == "equilibrium" else f"C{x % 9 + 1}"
        ax.errorbar([x], [gain], yerr=[[gain - lower], [0.0]], fmt="o", color=colour,
                    capsize=4, label=f"best response's gain: mean and one-sided {level:.0f}% "
                                     "interval" if x == 0 else None)
        ax.plot([x], [bound], marker="^", color="k", linestyle="none",
                label="exploitability lower bound max(0, lower)" if x == 0 else None)
        top = max(gain, bound)
        ax.annotate(f"exploitability\n>= {bound:.3g}\n({level:.0f}% one-sided)", (x, top),
                    textcoords="offset points", xytext=(0, 6), ha="center", fontsize=6)
        tops.append(top)
        regret, upper = (float(row.get(key, "nan") if row.get(key) not in (None, "") else "nan")
                         for key in ("egta_regret", "egta_regret_upper"))
        if regret == regret and upper == upper:
            regrets.append((x + 0.2, regret, upper))
            tops.append(regret)
    ax.axhline(0.0, color="0.5", linewidth=0.8)
    ax.set_xticks(range(len(rows)))
    ax.set_xticklabels([str(r["agent"]) for r in rows], fontsize=7)
    ax.set_xlim(-0.6, len(rows) - 0.4)
    low = min(ax.get_ylim()[0], 0.0)
    high = max(tops) + 0.3 * (max(tops) - low)
    for beside, regret, upper in regrets:
        # the EGTA bound is often far above the gains: drawn up to the frame, its value written
        ax.errorbar([beside], [regret], yerr=[[0.0], [min(upper, high) - regret]], fmt="x",
                    color="0.45", capsize=4 if upper <= high else 0,
                    label="EGTA regret (library deviations), 95% upper bound")
        ax.annotate(f"EGTA regret\n<= {upper:.4g}", (beside, min(upper, high)),
                    textcoords="offset points", xytext=(3, -18), ha="left", fontsize=6,
                    color="0.35")
    ax.set_ylim(low, high)
    ax.set_ylabel("best-response gain (ticks)")
    ax.set_title("exploitability lower bounds: a trained best response's gain", fontsize=8)
    # below the axes: inside, it would cover the labels above the points
    ax.legend(fontsize=6, loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=2, frameon=False)
    return ax


def read_psro(folder: Path) -> list[dict[str, Any]]:
    """The iterations of a PSRO run stored in ``folder/psro.json``."""
    document = json.loads((Path(folder) / "psro.json").read_text())
    return psro_rows(document["iterations"])


def psro_rows(iterations: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One row per PSRO iteration and trained role (``PsroIteration.to_dict()`` documents);
    ``exploitability_lower_bound`` is the iteration's bound over all its roles."""
    rows = []
    for item in iterations:
        responses = item.get("responses")
        if responses is None:  # a single-role document without the per-role list
            responses = [{"role": item.get("role", ""), "gain": item.get("gain")}]
        for response in responses or [{"role": "", "gain": None}]:
            gain = response.get("gain") or {}
            rows.append({"iteration": item["iteration"], "role": response.get("role", ""),
                         "gain": gain.get("gain", float("nan")),
                         "stderr": gain.get("stderr", float("nan")),
                         "lower": gain.get("lower", float("nan")),
                         "confidence": gain.get("confidence", float("nan")),
                         "exploitability_lower_bound": item.get("exploitability_lower_bound"),
                         "meta_regret": item["meta_regret"], "converged": item["converged"],
                         "wall_time": item["wall_time"], "cpu_time": item["cpu_time"]})
    return rows


def run_psro_rows(*, quick: bool, seed: int = 0, out: Path | None = None
                  ) -> list[dict[str, Any]]:
    """A small PSRO run on ``order_book`` (background role, market maker fixed)."""
    from gametools.market.psro import run_psro
    from gametools.scenarios import get_scenario

    config = get_scenario("order_book").build(n_background=15, n_market_makers=1,
                                              n_arrivals=100)
    result = run_psro(config, "background", [["zi_0_250", "zi_0_1000"], ["mm"]],
                      algorithm="mappo", iterations=2 if quick else 4,
                      out=None if out is None else out / "psro", seed=seed,
                      samples=8 if quick else 16, train_steps=2_000 if quick else 10_000,
                      num_envs=16, gain_episodes=256 if quick else 1024, bootstrap=50,
                      stop_at_convergence=False)
    return psro_rows([item.to_dict() for item in result.iterations])


def write_rows(path: Path, rows: Sequence[Mapping[str, Any]]) -> None:
    """A tidy CSV, written atomically."""
    from gametools._io import atomic_write

    if not rows:
        return
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write(path, text.getvalue())


def plot_efficiency(rows: Sequence[Mapping[str, Any]], *, ax: Any = None) -> Any:
    """Bars of allocative efficiency with 95% normal intervals, one group per market."""
    import matplotlib.pyplot as plt

    ax = ax or plt.subplots(figsize=(6.0, 3.2))[1]
    labels = [f"{r['strategy']}\n{'order book' if r['market'] == 'order_book' else 'GS auction'}"
              f"{' + mm' if r['market_maker'] else ''}" for r in rows]
    values = np.array([float(r["efficiency"]) for r in rows])
    errors = 1.96 * np.array([float(r["stderr"]) for r in rows])
    colours = ["C0" if r["market"] == "double_auction" else ("C2" if r["market_maker"] else "C1")
               for r in rows]
    ax.bar(range(len(rows)), values, yerr=errors, color=colours, capsize=2)
    ax.axhline(1.0, color="0.5", linewidth=0.8, linestyle="--")
    ax.set_xticks(range(len(rows)))
    ax.set_xticklabels(labels, rotation=90, fontsize=6)
    ax.set_ylabel("allocative efficiency")
    return ax


def plot_egta_equilibria(rows: Sequence[Mapping[str, Any]], *, ax: Any = None) -> Any:
    """Stacked bars of each market's equilibrium mixture, labelled with its regret bound."""
    import matplotlib.pyplot as plt

    ax = ax or plt.subplots(figsize=(5.0, 3.0))[1]
    markets = sorted({(int(r["agents"]), bool(r["market_maker"])) for r in rows})
    names = sorted({str(r["strategy"]) for r in rows if r["strategy"]})
    bottoms = np.zeros(len(markets))
    for k, name in enumerate(names):
        heights = np.array([sum(float(r["probability"]) for r in rows
                                if (int(r["agents"]), bool(r["market_maker"])) == m
                                and r["strategy"] == name) for m in markets])
        ax.bar(range(len(markets)), heights, bottom=bottoms, label=name, color=f"C{k}")
        bottoms += heights
    for x, m in enumerate(markets):
        upper = [float(r["regret_upper"]) for r in rows
                 if (int(r["agents"]), bool(r["market_maker"])) == m]
        text = f"regret <= {upper[0]:.3g}" if upper and upper[0] == upper[0] else "none"
        ax.text(x, 1.02, text, ha="center", fontsize=6)
    ax.set_xticks(range(len(markets)))
    ax.set_xticklabels([f"{a} agents\n{'with' if mm else 'no'} mm" for a, mm in markets])
    ax.set_ylim(0, 1.15)
    ax.set_ylabel("equilibrium probability")
    ax.legend(fontsize=6, loc="lower right")
    return ax


def plot_psro_bounds(rows: Sequence[Mapping[str, Any]], *, ax: Any = None) -> Any:
    """Each trained role's best-response gain (mean, shaded down to its one-sided lower bound)
    over PSRO iterations, and the meta-equilibrium's exploitability lower bound (dashed; over
    all roles at once when several are trained)."""
    import matplotlib.pyplot as plt

    ax = ax or plt.subplots(figsize=(4.5, 3.0))[1]
    roles = list(dict.fromkeys(str(r.get("role", "")) for r in rows))
    for k, role in enumerate(roles):
        mine = [r for r in rows if str(r.get("role", "")) == role]
        x = [int(r["iteration"]) for r in mine]
        gain = np.array([float(r["gain"]) for r in mine])
        lower = np.array([float(r["lower"]) for r in mine])
        suffix = f" ({role})" if len(roles) > 1 else ""
        ax.plot(x, gain, marker="o", color=f"C{k}",
                label=f"gain of the best response (mean){suffix}")
        ax.fill_between(x, lower, gain, alpha=0.25, color=f"C{k}",
                        label=f"one-sided 95% interval (gain >= lower bound){suffix}")
    bound: dict[int, float] = {}
    for r in rows:
        value = r.get("exploitability_lower_bound")
        value = float(r["lower"]) if value is None or value == "" else float(value)
        bound[int(r["iteration"])] = max(0.0, value)
    x = sorted(bound)
    ax.plot(x, [bound[i] for i in x], marker="s", linestyle="--", color="k",
            label="exploitability lower bound" + (" (all roles, Bonferroni)"
                                                  if len(roles) > 1 else ""))
    ax.axhline(0.0, color="0.5", linewidth=0.8)
    ax.set_xlabel("PSRO iteration")
    ax.set_ylabel("payoff gain (ticks)")
    ax.set_xticks(x)
    ax.legend(fontsize=6)
    return ax


def main(argv: Sequence[str] | None = None) -> int:
    """Run the study (``--quick`` for a few minutes) and write tables and figures to --out."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from gametools.limits import configure_threads
    from gametools.plotting import paper_style, save_figure

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", default="runs/market_study")
    parser.add_argument("--psro", default=None, help="read a finished PSRO run from this folder")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    configure_threads()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    egta = egta_rows(quick=args.quick, seed=args.seed, out=out)
    tables = {
        "market_efficiency": (efficiency_rows(quick=args.quick, seed=args.seed),
                              plot_efficiency),
        "market_maker_welfare": (market_maker_rows(quick=args.quick, seed=args.seed),
                                 plot_market_maker),
        "market_maker_equilibrium_welfare": (
            market_maker_equilibrium_rows(quick=args.quick, seed=args.seed, out=out),
            plot_market_maker),
        "market_egta": (egta, plot_egta_equilibria),
        "market_learned_agents": (learned_agent_rows(quick=args.quick, seed=args.seed,
                                                     egta=egta, out=out),
                                  plot_learned_bounds),
        "market_psro": (read_psro(Path(args.psro)) if args.psro else
                        run_psro_rows(quick=args.quick, seed=args.seed, out=out),
                        plot_psro_bounds),
    }
    print_market_maker_comparison(tables["market_maker_equilibrium_welfare"][0])
    for stem, (rows, plot) in tables.items():
        write_rows(out / f"{stem}.csv", rows)
        with paper_style():
            figure, ax = plt.subplots(figsize=(6.0, 3.4))
            plot(rows, ax=ax)
            figure.tight_layout()
            for path in save_figure(figure, out / stem):
                print(path)
            plt.close(figure)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
