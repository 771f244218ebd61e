"""The Grafana dashboard and the alert rules against a real Prometheus scraping a live imapgate
(issue E, point 3).

monitoring/grafana/imapgate.json is checked on its own (rows, the datasource and instance
variables, every panel on the datasource variable, every selector filtered by $instance, every
metric it names in docs/METRICS.md), then a real Prometheus (Debian's 2.42, /usr/bin/prometheus) on
127.0.0.1 scrapes a live imapgate (real Dovecots in two shards) every second with
monitoring/alerts.yml loaded, and:
  * every panel query, its Grafana variables substituted, parses and runs through
    /api/v1/query (for the one instance selected and for All);
  * every alert rule is loaded (/api/v1/rules lists every group and alert of alerts.yml),
    evaluates without error and names only catalog metrics (plus Prometheus's own `up`);
  * the metric families in imapgate's live scrape and those docs/METRICS.md documents are the same
    set (two tests, one per direction).

docs/METRICS.md is read by its tables: the backticked `imapgate_...` name in the first cell of each
row is a documented family (histograms by their base name: `_bucket`, `_sum` and `_count` of it are
its series).
"""

from __future__ import annotations

import json
import re
import time
import unittest
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Set

import harness as h
from harness import ds

MONITORING = h.SOURCE_DIR / "monitoring"
DASHBOARD = MONITORING / "grafana" / "imapgate.json"
ALERTS = MONITORING / "alerts.yml"
METRICS_DOC = h.SOURCE_DIR / "docs" / "METRICS.md"
ROWS = ("Traffic and TLS", "Logins and 2FA", "Attacks", "Backends and shards", "Relay and latency")
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
PROMETHEUS_OWN = {"up"}          # series Prometheus makes itself; the alert rules may use them
HISTOGRAM_SUFFIXES = ("_bucket", "_count", "_sum")

# What Grafana puts in for its built-in interval variables, in a test (any valid duration does).
GRAFANA_INTERVALS = {"__rate_interval": "1m", "__interval": "15s", "__range": "5m", "__range_s": "300",
                     "__range_ms": "300000", "__interval_ms": "15000"}

# --------------------------------------------------------------------------------------------
# PromQL: the metric names a query names
# --------------------------------------------------------------------------------------------
_KEYWORDS = {"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring", "group_left",
             "group_right", "inf", "nan", "start", "end", "atan2"}
_LABEL_LISTS = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)")
_IDENT = re.compile(r"(?<![\w:.$])([A-Za-z_:][A-Za-z0-9_:]*)")


def metric_names(expr: str) -> Set[str]:
    """Every metric name `expr` selects: identifiers left once strings, label matchers, ranges
    and label lists are removed, that are neither a keyword nor a function or aggregation (an
    identifier followed by `(`)."""
    s = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`', '""', expr)
    s = re.sub(r"\{[^{}]*\}", " ", s)
    s = re.sub(r"\[[^\[\]]*\]", " ", s)
    s = _LABEL_LISTS.sub(" ", s)
    names = set()
    for m in _IDENT.finditer(s):
        name = m.group(1)
        if name.lower() in _KEYWORDS or re.match(r"\s*\(", s[m.end():]):
            continue
        names.add(name)
    return names


def selectors(expr: str) -> List[re.Match]:
    """The vector selectors of imapgate metrics in `expr`: group 1 the name, group 2 the matchers."""
    return list(re.finditer(r"(?<![\w:])(imapgate_[A-Za-z0-9_]+)\s*(\{[^{}]*\})?", expr))


def family_of(name: str, documented: Set[str]) -> Optional[str]:
    """The documented family a series name belongs to (a histogram's _bucket/_sum/_count are its
    base name's), or None."""
    if name in documented:
        return name
    for suffix in HISTOGRAM_SUFFIXES:
        if name.endswith(suffix) and name[:-len(suffix)] in documented:
            return name[:-len(suffix)]
    return None


def documented_families(path: Path = METRICS_DOC) -> Set[str]:
    """The metric families docs/METRICS.md documents: the backticked `imapgate_...` name in the
    first cell of each table row."""
    names = set()
    for line in path.read_text().splitlines():
        if not line.lstrip().startswith("|"):
            continue
        first = line.strip().strip("|").split("|")[0]
        names.update(re.findall(r"`(imapgate_[a-z0-9_]+)`", first))
    return names


def scrape_families(text: str) -> Set[str]:
    """The metric families of a Prometheus text exposition: its `# TYPE name type` lines."""
    return set(re.findall(r"(?m)^# TYPE (\S+) \S+$", text))


def substitute(expr: str, instance: str) -> str:
    """A panel's query as Grafana sends it: $instance / ${instance} / ${instance:regex} / [[instance]]
    as `instance`, Grafana's interval variables as fixed durations."""
    out = re.sub(r"\$\{instance(?::\w+)?\}|\$instance\b|\[\[instance\]\]", instance, expr)
    for var, value in sorted(GRAFANA_INTERVALS.items(), key=lambda kv: -len(kv[0])):
        out = out.replace("${" + var + "}", value).replace("$" + var, value)
    return out


def dashboard() -> Dict:
    return json.loads(DASHBOARD.read_text())


def dashboard_targets(d: Dict) -> List[Dict]:
    """(panel title, target) of every query target of every panel, rows' nested panels included."""
    out = []

    def walk(panels: Iterable[Dict]) -> None:
        for p in panels:
            if p.get("type") == "row":
                walk(p.get("panels", []))
                continue
            for t in p.get("targets", []):
                out.append({"panel": p.get("title", "?"), "target": t})

    walk(d.get("panels", []))
    return out


def alert_file_names(path: Path = ALERTS) -> Dict[str, Set[str]]:
    """group name -> its alert names, read from the rule file's `- name:` and `- alert:` lines."""
    groups: Dict[str, Set[str]] = {}
    current = None
    for line in path.read_text().splitlines():
        m = re.match(r"\s*-\s+name:\s*(\S+)\s*$", line)
        if m:
            current = m.group(1)
            groups[current] = set()
            continue
        m = re.match(r"\s*-\s+alert:\s*(\S+)\s*$", line)
        if m:
            assert current is not None, line
            groups[current].add(m.group(1))
    return groups


# --------------------------------------------------------------------------------------------
# The dashboard file on its own
# --------------------------------------------------------------------------------------------
class DashboardFileTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = dashboard()
        cls.targets = dashboard_targets(cls.d)

    def test_schema_and_rows(self):
        self.assertTrue(36 <= self.d["schemaVersion"] <= 41, self.d["schemaVersion"])
        self.assertEqual(self.d["uid"], "imapgate")
        rows = [p for p in self.d["panels"] if p["type"] == "row"]
        titles = [r["title"] for r in rows]
        for area in ROWS:
            self.assertTrue(any(t.startswith(area) for t in titles), f"no row for {area!r}: {titles}")
        # Each row holds panels: the panels between it and the next row (a collapsed row: its own).
        i = 0
        panels = self.d["panels"]
        while i < len(panels):
            if panels[i]["type"] == "row":
                j = i + 1
                while j < len(panels) and panels[j]["type"] != "row":
                    j += 1
                held = (j - i - 1) + len(panels[i].get("panels", []))
                self.assertGreaterEqual(held, 2, f"row {panels[i]['title']!r} holds {held} panels")
                i = j
            else:
                i += 1
        ids = [p["id"] for p in panels]
        self.assertEqual(len(ids), len(set(ids)), "panel ids repeat")

    def test_datasource_and_instance_variables(self):
        variables = {v["name"]: v for v in self.d["templating"]["list"]}
        ds_var = variables.get("datasource")
        self.assertIsNotNone(ds_var, "no datasource variable")
        self.assertEqual((ds_var["type"], ds_var["query"]), ("datasource", "prometheus"))
        inst = variables.get("instance")
        self.assertIsNotNone(inst, "no instance variable")
        self.assertEqual(inst["type"], "query")
        self.assertEqual(inst["datasource"], DATASOURCE)
        query = inst["query"]["query"] if isinstance(inst["query"], dict) else inst["query"]
        self.assertEqual(re.sub(r"\s+", "", query), "label_values(imapgate_build_info,instance)")
        self.assertTrue(inst.get("multi") and inst.get("includeAll"), "the instance selector takes several")

    def test_every_panel_uses_the_datasource_variable(self):
        self.assertGreater(len(self.targets), 30)
        panels = [p for p in self.d["panels"] if p["type"] != "row"]
        for p in panels:
            self.assertEqual(p.get("datasource"), DATASOURCE, p["title"])
            self.assertTrue(p.get("targets"), f"panel {p['title']!r} has no query")
        for t in self.targets:
            self.assertEqual(t["target"].get("datasource"), DATASOURCE, t["panel"])

    def test_every_selector_filters_by_the_instance_variable(self):
        for t in self.targets:
            expr = t["target"]["expr"]
            found = selectors(expr)
            self.assertTrue(found, f"{t['panel']}: no imapgate metric in {expr}")
            for m in found:
                self.assertIn('instance=~"$instance"', m.group(2) or "",
                              f"{t['panel']}: {m.group(1)} is not filtered by $instance in {expr}")

    def test_every_panel_names_only_catalog_metrics(self):
        documented = documented_families()
        self.assertGreater(len(documented), 20, f"{METRICS_DOC} documents {len(documented)} families")
        bad = []
        for t in self.targets:
            names = metric_names(t["target"]["expr"])
            self.assertTrue(names, f"{t['panel']}: no metric found in {t['target']['expr']}")
            bad += [f"{t['panel']}: {n}" for n in sorted(names) if family_of(n, documented) is None]
        self.assertEqual(bad, [], f"panel queries name metrics that {METRICS_DOC.name} does not document")

    def test_metric_name_extraction(self):
        self.assertEqual(metric_names('histogram_quantile(0.99, sum by (instance, le) '
                                      '(rate(imapgate_x_seconds_bucket{a="b(c)", le!="1"}[5m])))'),
                         {"imapgate_x_seconds_bucket"})
        self.assertEqual(metric_names('(max by (instance) (a) == 0) unless on (instance) b offset 5m > bool 1e3'),
                         {"a", "b"})
        self.assertEqual(metric_names('up{job="imapgate"} == 0 and on(instance) time() - c'), {"up", "c"})
        self.assertEqual(metric_names('sum(rate(d[$__rate_interval])) by (le) / ignoring(x) group_left e'),
                         {"d", "e"})


# --------------------------------------------------------------------------------------------
# Against a real Prometheus scraping a live imapgate
# --------------------------------------------------------------------------------------------
class LiveDashboardTest(h.ShardedGateTestCase):
    """imapgate in front of two shards of real Dovecots (a1, a2; b1), the abuse defence at its
    defaults, scraped every second by a real Prometheus with monitoring/alerts.yml."""

    ABUSE = None
    prom: Optional[ds.Prometheus] = None

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        try:
            cls.instance = f"{h.HOST}:{cls.admin_port}"
            # Some traffic first: a login and a wrong password.
            c = h.RawClient.connect(cls.implicit_port, tls=True, ctx=cls.client_ctx())
            c.greeting()
            c.command("l1", f'LOGIN "{h.ALICE}" "{h.ALICE_PW}"', timeout=20)
            c.command("z", "LOGOUT")
            c.close()
            c = h.RawClient.connect(cls.implicit_port, tls=True, ctx=cls.client_ctx())
            c.greeting()
            c.command("l1", f'LOGIN "{h.BOB}" "not-bobs-password"', timeout=20)
            c.close()
            cls.prom = ds.Prometheus(cls.tmp / "prometheus", [cls.instance], rule_files=[ALERTS]).start()
            cls.prom.wait_targets_up(timeout=60)
        except BaseException:
            if cls.prom is not None:
                cls.prom.stop()
            cls._teardown(check=False)
            raise

    @classmethod
    def tearDownClass(cls):
        if cls.prom is not None:
            cls.prom.stop()
            cls.prom = None
        super().tearDownClass()

    def tearDown(self):
        super().tearDown()
        outcome = getattr(self, "_outcome", None)
        if outcome is not None and not getattr(outcome, "success", True) and self.prom is not None:
            print(f"\n[test] prometheus log (tail):\n{self.prom.log()[-2000:]}\n")

    def scrape(self) -> str:
        status, body, _ = self.admin_request("GET", "/metrics")
        self.assertEqual(status, 200, body[:200])
        return body.decode()

    def test_1_imapgate_is_scraped(self):
        targets = [t for t in self.prom.active_targets() if t["labels"].get("job") == "imapgate"]
        self.assertEqual([(t["labels"]["instance"], t["health"]) for t in targets], [(self.instance, "up")])
        result = self.prom.query('up{job="imapgate"}')
        self.assertEqual([(r["metric"]["instance"], r["value"][1]) for r in result], [(self.instance, "1")])
        # The instance variable's query (label_values(imapgate_build_info, instance)) lists it.
        values = self.prom.api("label/instance/values", **{"match[]": "imapgate_build_info"})
        self.assertEqual(values, [self.instance])

    def test_every_panel_query_parses_and_runs(self):
        targets = dashboard_targets(dashboard())
        failures = []
        for instance in (self.instance, ".*"):       # one instance selected; All (allValue .*)
            for t in targets:
                expr = substitute(t["target"]["expr"], instance)
                self.assertNotIn("$", expr, f"{t['panel']}: a variable left in {expr}")
                try:
                    self.prom.query(expr)
                except ds.PrometheusError as e:
                    failures.append(f"{t['panel']}: {expr}\n    {e}")
        self.assertEqual(failures, [], "panel queries Prometheus refused:\n" + "\n".join(failures))

    def test_every_alert_rule_is_loaded_evaluates_and_names_catalog_metrics(self):
        want = alert_file_names()
        self.assertEqual(sum(len(a) for a in want.values()), 11, want)
        deadline = time.monotonic() + 30
        while True:      # every rule evaluated at least once (evaluation_interval 1s)
            groups = self.prom.rule_groups()
            rules = [r for g in groups for r in g["rules"]]
            if rules and all(not r["lastEvaluation"].startswith("0001-") for r in rules) \
                    or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        self.assertEqual({g["name"]: {r["name"] for r in g["rules"]} for g in groups}, want)
        documented = documented_families() | PROMETHEUS_OWN
        problems = []
        for g in groups:
            for r in g["rules"]:
                if r.get("health") != "ok":
                    problems.append(f"{r['name']}: health {r.get('health')} {r.get('lastError', '')}")
                try:
                    self.prom.query(r["query"])
                except ds.PrometheusError as e:
                    problems.append(f"{r['name']}: {e}")
                problems += [f"{r['name']}: {n} is not in the catalog" for n in sorted(metric_names(r["query"]))
                             if family_of(n, documented) is None]
                for label in ("severity",):
                    if label not in r.get("labels", {}):
                        problems.append(f"{r['name']}: no {label} label")
                for ann in ("summary", "description"):
                    if not r.get("annotations", {}).get(ann):
                        problems.append(f"{r['name']}: no {ann} annotation")
        self.assertEqual(problems, [])

    def test_every_scraped_family_is_documented(self):
        scraped = scrape_families(self.scrape())
        self.assertIn("imapgate_build_info", scraped)
        missing = sorted(scraped - documented_families())
        self.assertEqual(missing, [], f"in the scrape but not in {METRICS_DOC.name}")

    def test_every_documented_family_is_in_the_scrape(self):
        absent = sorted(documented_families() - scrape_families(self.scrape()))
        self.assertEqual(absent, [], f"documented in {METRICS_DOC.name} but not in imapgate's scrape")


if __name__ == "__main__":
    unittest.main()
