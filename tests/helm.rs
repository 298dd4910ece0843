//! The Helm chart (`helm/kirikae`), its dashboard and alerts, and the metrics spec they rely on,
//! checked without a helm binary: the templates are rendered by a Go-template engine (`gtmpl`)
//! given the few Helm/sprig functions the chart uses, every rendered document is parsed as YAML,
//! and what the cluster and the hub would read from it is read as they would.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use gtmpl::{Context, Func, FuncError, Template, Value};
use serde_json::{Value as Json, json};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn chart() -> PathBuf {
    repo().join("helm/kirikae")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

// ---------------------------------------------------------------------------------------------
// The renderer: Go templates plus the Helm and sprig functions the chart uses, nothing more.

thread_local! {
    /// `templates/_helpers.tpl`, for `include` (a function cannot reach the template it runs in).
    static HELPERS: RefCell<String> = const { RefCell::new(String::new()) };
}

const FUNCS: &[(&str, Func)] = &[
    ("include", include),
    ("default", default),
    ("quote", quote),
    ("nindent", nindent),
    ("toYaml", to_yaml),
    ("upper", upper),
    ("sha256sum", sha256sum),
    ("add", add),
    ("filesGet", files_get),
];

fn template() -> Template {
    let mut t = Template::default();
    t.add_funcs(FUNCS);
    let helpers = HELPERS.with(|h| h.borrow().clone());
    t.add_template("_helpers.tpl", helpers)
        .expect("_helpers.tpl parses");
    t
}

fn generic(e: impl std::fmt::Display) -> FuncError {
    FuncError::Generic(e.to_string())
}

fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::NoValue | Value::Nil => String::new(),
        other => other.to_string(),
    }
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::NoValue | Value::Nil => true,
        Value::Bool(b) => !b,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Map(m) | Value::Object(m) => m.is_empty(),
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::Function(_) => false,
    }
}

/// `include NAME CONTEXT`: renders a `define` of the helpers with that context.
fn include(args: &[Value]) -> Result<Value, FuncError> {
    let [Value::String(name), ctx] = args else {
        return Err(FuncError::ExactlyXArgs("include".into(), 2));
    };
    let mut t = template();
    t.parse(format!("{{{{ template \"{name}\" . }}}}"))
        .map_err(generic)?;
    Ok(Value::String(
        t.render(&Context::from(ctx.clone())).map_err(generic)?,
    ))
}

/// `default DEFAULT GIVEN`: GIVEN unless it is empty.
fn default(args: &[Value]) -> Result<Value, FuncError> {
    match args {
        [d] => Ok(d.clone()),
        [d, given] => Ok(if is_empty(given) {
            d.clone()
        } else {
            given.clone()
        }),
        _ => Err(FuncError::AtLeastXArgs("default".into(), 1)),
    }
}

fn quote(args: &[Value]) -> Result<Value, FuncError> {
    let quoted: Vec<String> = args
        .iter()
        .map(|a| serde_json::to_string(&text_of(a)).expect("a string serialises"))
        .collect();
    Ok(Value::String(quoted.join(" ")))
}

fn nindent(args: &[Value]) -> Result<Value, FuncError> {
    let [n, s] = args else {
        return Err(FuncError::ExactlyXArgs("nindent".into(), 2));
    };
    let n: usize = text_of(n).parse().map_err(generic)?;
    let pad = " ".repeat(n);
    let lines: Vec<String> = text_of(s).lines().map(|l| format!("{pad}{l}")).collect();
    Ok(Value::String(format!("\n{}", lines.join("\n"))))
}

fn to_json(v: &Value) -> Json {
    match v {
        Value::NoValue | Value::Nil | Value::Function(_) => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::String(s) => Json::String(s.clone()),
        Value::Array(a) => Json::Array(a.iter().map(to_json).collect()),
        Value::Map(m) | Value::Object(m) => Json::Object(
            m.iter()
                .map(|(k, v)| (k.clone(), to_json(v)))
                .collect::<BTreeMap<_, _>>()
                .into_iter()
                .collect(),
        ),
        Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => json!(i),
            (_, Some(u), _) => json!(u),
            (_, _, Some(f)) => json!(f),
            _ => Json::Null,
        },
    }
}

fn from_json(v: &Json) -> Value {
    match v {
        Json::Null => Value::Nil,
        Json::Bool(b) => Value::Bool(*b),
        Json::String(s) => Value::String(s.clone()),
        Json::Array(a) => Value::Array(a.iter().map(from_json).collect()),
        Json::Object(m) => Value::Map(
            m.iter()
                .map(|(k, v)| (k.clone(), from_json(v)))
                .collect::<HashMap<_, _>>(),
        ),
        Json::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => Value::from(i),
            (_, Some(f)) => Value::from(f),
            _ => Value::Nil,
        },
    }
}

fn to_yaml(args: &[Value]) -> Result<Value, FuncError> {
    let [v] = args else {
        return Err(FuncError::ExactlyXArgs("toYaml".into(), 1));
    };
    let text = serde_norway::to_string(&to_json(v)).map_err(generic)?;
    Ok(Value::String(text.trim_end().to_string()))
}

fn upper(args: &[Value]) -> Result<Value, FuncError> {
    let [v] = args else {
        return Err(FuncError::ExactlyXArgs("upper".into(), 1));
    };
    Ok(Value::String(text_of(v).to_uppercase()))
}

fn sha256sum(args: &[Value]) -> Result<Value, FuncError> {
    use sha2::Digest;
    let [v] = args else {
        return Err(FuncError::ExactlyXArgs("sha256sum".into(), 1));
    };
    Ok(Value::String(hex::encode(sha2::Sha256::digest(
        text_of(v).as_bytes(),
    ))))
}

/// sprig's `add`: integers, given as numbers or as text ("03").
fn add(args: &[Value]) -> Result<Value, FuncError> {
    let mut sum = 0i64;
    for a in args {
        sum += text_of(a).trim().parse::<i64>().map_err(generic)?;
    }
    Ok(Value::from(sum))
}

/// `.Files.Get PATH` (gtmpl has no methods with arguments, so the renderer rewrites it to this).
fn files_get(args: &[Value]) -> Result<Value, FuncError> {
    let [Value::String(path)] = args else {
        return Err(FuncError::ExactlyXArgs("filesGet".into(), 1));
    };
    std::fs::read_to_string(chart().join(path))
        .map(Value::String)
        .map_err(generic)
}

fn values() -> Json {
    serde_norway::from_str(&read(&chart().join("values.yaml"))).expect("values.yaml is YAML")
}

fn chart_meta() -> Json {
    serde_norway::from_str(&read(&chart().join("Chart.yaml"))).expect("Chart.yaml is YAML")
}

/// Sets `path` (dotted) in `values`, as `helm --set` would.
fn set(values: &mut Json, path: &str, value: Json) {
    let mut at = values;
    let keys: Vec<&str> = path.split('.').collect();
    for k in &keys[..keys.len() - 1] {
        at = at.get_mut(*k).unwrap_or_else(|| panic!("{path}: no {k}"));
    }
    at[keys[keys.len() - 1]] = value;
}

/// One rendered document, with the template it came from.
#[derive(Debug)]
struct Doc {
    template: String,
    body: Json,
}

impl Doc {
    fn kind(&self) -> &str {
        self.body["kind"].as_str().unwrap_or("")
    }
    fn name(&self) -> &str {
        self.body["metadata"]["name"].as_str().unwrap_or("")
    }
}

/// Renders every template with `values`, as `helm template RELEASE` would, and parses each
/// document of the output as YAML.
fn render(values: &Json) -> Vec<Doc> {
    HELPERS.with(|h| *h.borrow_mut() = read(&chart().join("templates/_helpers.tpl")));
    let meta = chart_meta();
    let root = json!({
        "Values": values,
        "Release": {"Name": "kirikae", "Namespace": "switching", "Service": "Helm",
                    "IsInstall": true, "IsUpgrade": false},
        "Chart": {"Name": meta["name"], "Version": meta["version"], "AppVersion": meta["appVersion"]},
    });
    let mut docs = Vec::new();
    let mut names: Vec<PathBuf> = std::fs::read_dir(chart().join("templates"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    names.sort();
    for path in names {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let text = read(&path).replace(".Files.Get", "filesGet");
        let mut t = template();
        t.parse(text)
            .unwrap_or_else(|e| panic!("{name} does not parse: {e}"));
        let out = t
            .render(&Context::from(from_json(&root)))
            .unwrap_or_else(|e| panic!("{name} does not render: {e}"));
        for (i, part) in out.split("\n---").enumerate() {
            let body: Json = serde_norway::from_str(part)
                .unwrap_or_else(|e| panic!("{name}, document {i}: {e}\n{part}"));
            if !body.is_null() {
                docs.push(Doc {
                    template: name.clone(),
                    body,
                });
            }
        }
    }
    docs
}

/// Values with every switch on and every optional part given.
fn everything_on() -> Json {
    let mut v = values();
    for path in [
        "simulators.enabled",
        "metrics.serviceMonitor.enabled",
        "metrics.prometheusRule.enabled",
        "metrics.dashboard.enabled",
    ] {
        set(&mut v, path, json!(true));
    }
    set(&mut v, "imagePullSecrets", json!([{"name": "registry"}]));
    v
}

fn of_kind<'a>(docs: &'a [Doc], kind: &str) -> Vec<&'a Doc> {
    docs.iter().filter(|d| d.kind() == kind).collect()
}

fn one<'a>(docs: &'a [Doc], kind: &str, name: &str) -> &'a Doc {
    docs.iter()
        .find(|d| d.kind() == kind && d.name() == name)
        .unwrap_or_else(|| panic!("no {kind} {name}"))
}

/// The pod spec of a Deployment or Job.
fn pod(doc: &Doc) -> &Json {
    &doc.body["spec"]["template"]["spec"]
}

fn containers(doc: &Doc) -> Vec<&Json> {
    pod(doc)["containers"]
        .as_array()
        .unwrap_or_else(|| panic!("{} has no containers", doc.name()))
        .iter()
        .collect()
}

// ---------------------------------------------------------------------------------------------
// The chart.

#[test]
fn every_template_renders_to_yaml_with_the_default_values_and_with_every_switch_on() {
    let defaults = render(&values());
    let areas = values()["connectors"]["areas"].as_array().unwrap().len();
    assert_eq!(areas, 10, "one connector per area by default");
    assert_eq!(of_kind(&defaults, "Deployment").len(), areas + 2);
    assert_eq!(of_kind(&defaults, "Job").len(), 1);
    assert_eq!(of_kind(&defaults, "HorizontalPodAutoscaler").len(), 1);
    assert_eq!(of_kind(&defaults, "PodDisruptionBudget").len(), 1);
    assert_eq!(of_kind(&defaults, "Secret").len(), 2, "database and TLS");
    for kind in ["ServiceMonitor", "PrometheusRule"] {
        assert!(
            of_kind(&defaults, kind).is_empty(),
            "{kind} is off by default"
        );
    }
    for d in &defaults {
        assert!(
            !d.name().is_empty(),
            "{}: a {} without a name",
            d.template,
            d.kind()
        );
        assert!(
            d.body["apiVersion"].is_string(),
            "{}: {}",
            d.template,
            d.name()
        );
    }

    let all = render(&everything_on());
    assert_eq!(of_kind(&all, "ServiceMonitor").len(), 1);
    assert_eq!(of_kind(&all, "PrometheusRule").len(), 1);
    one(&all, "ConfigMap", "kirikae-dashboard");
    let mut seen = BTreeSet::new();
    for d in &all {
        assert!(
            seen.insert((d.kind().to_string(), d.name().to_string())),
            "two objects {} {}",
            d.kind(),
            d.name()
        );
    }
}

#[test]
fn every_value_a_template_uses_is_defined_in_values_yaml_and_every_value_is_used() {
    let pattern = regex::Regex::new(r"\.Values((?:\.[A-Za-z_][A-Za-z0-9_]*)+)").unwrap();
    let mut used = BTreeSet::new();
    for entry in std::fs::read_dir(chart().join("templates")).unwrap() {
        let path = entry.unwrap().path();
        for c in pattern.captures_iter(&read(&path)) {
            used.insert(c[1][1..].to_string());
        }
    }
    let values = values();
    for path in &used {
        let mut at = &values;
        for key in path.split('.') {
            at = at
                .get(key)
                .unwrap_or_else(|| panic!(".Values.{path} is used but not in values.yaml"));
        }
    }
    // Every leaf of values.yaml (lists and free-form maps as a whole) is read by a template.
    fn leaves(v: &Json, prefix: String, out: &mut Vec<String>) {
        match v.as_object() {
            Some(m) if !m.is_empty() => {
                for (k, v) in m {
                    let p = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    leaves(v, p, out);
                }
            }
            _ => out.push(prefix),
        }
    }
    let mut all = Vec::new();
    leaves(&values, String::new(), &mut all);
    for leaf in all {
        assert!(
            used.iter()
                .any(|u| leaf == *u || leaf.starts_with(&format!("{u}."))),
            "values.yaml defines {leaf}, which no template reads"
        );
    }
}

#[test]
fn every_deployment_has_probes_resources_a_grace_period_and_a_read_only_non_root_context() {
    let docs = render(&everything_on());
    let ops_port = values()["ports"]["ops"].as_i64().unwrap();
    let workloads: Vec<&Doc> = docs
        .iter()
        .filter(|d| matches!(d.kind(), "Deployment" | "Job"))
        .collect();
    assert!(workloads.len() > 10);
    for d in workloads {
        let pod = pod(d);
        assert_eq!(
            pod["securityContext"]["runAsNonRoot"],
            json!(true),
            "{}",
            d.name()
        );
        if d.kind() == "Deployment" {
            assert!(
                pod["terminationGracePeriodSeconds"].as_i64().unwrap_or(0) >= 30,
                "{}: graceful termination long enough to finish in-flight work",
                d.name()
            );
        }
        for c in containers(d) {
            let what = format!("{}/{}", d.name(), c["name"]);
            let sc = &c["securityContext"];
            assert_eq!(sc["readOnlyRootFilesystem"], json!(true), "{what}");
            assert_eq!(sc["allowPrivilegeEscalation"], json!(false), "{what}");
            assert_eq!(sc["capabilities"]["drop"], json!(["ALL"]), "{what}");
            for r in ["requests", "limits"] {
                for k in ["cpu", "memory"] {
                    assert!(!c["resources"][r][k].is_null(), "{what}: resources.{r}.{k}");
                }
            }
            let mounts: Vec<&str> = c["volumeMounts"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["mountPath"].as_str().unwrap())
                .collect();
            assert!(mounts.contains(&"/tmp"), "{what}: a writable /tmp");
            if let Some(dir) = c["workingDir"].as_str() {
                assert!(
                    mounts.contains(&dir),
                    "{what}: a writable working directory"
                );
            }
            if d.kind() == "Job" {
                continue;
            }
            let ports: Vec<(&str, i64)> = c["ports"]
                .as_array()
                .unwrap_or_else(|| panic!("{what}: no ports"))
                .iter()
                .map(|p| {
                    (
                        p["name"].as_str().unwrap(),
                        p["containerPort"].as_i64().unwrap(),
                    )
                })
                .collect();
            for probe in ["livenessProbe", "readinessProbe"] {
                let p = &c[probe];
                let port = p["httpGet"]["port"]
                    .as_str()
                    .or(p["tcpSocket"]["port"].as_str())
                    .unwrap_or_else(|| panic!("{what}: no {probe}"));
                assert!(
                    ports.iter().any(|(n, _)| *n == port),
                    "{what}: {probe} on port {port}, which it does not declare"
                );
            }
            if c["command"][1] != json!("tso-sim") {
                assert_eq!(
                    c["livenessProbe"]["httpGet"]["path"],
                    json!("/healthz"),
                    "{what}"
                );
                assert_eq!(
                    c["readinessProbe"]["httpGet"]["path"],
                    json!("/readyz"),
                    "{what}"
                );
                assert!(
                    ports.contains(&("ops", ops_port)),
                    "{what}: /healthz and /readyz are served on the ops listener"
                );
            }
        }
    }
    // The ops listener the probes reach is where the processes listen.
    let settings = &one(&docs, "ConfigMap", "kirikae-settings").body["data"];
    assert_eq!(
        settings["KIRIKAE_OPS_LISTEN"],
        json!(format!("0.0.0.0:{ops_port}"))
    );
}

#[test]
fn every_service_selects_the_pods_of_exactly_one_deployment_on_ports_they_declare() {
    let docs = render(&everything_on());
    let deployments = of_kind(&docs, "Deployment");
    for d in &deployments {
        let labels = &d.body["spec"]["template"]["metadata"]["labels"];
        for (k, v) in d.body["spec"]["selector"]["matchLabels"]
            .as_object()
            .unwrap()
        {
            assert_eq!(
                &labels[k],
                v,
                "{}: its selector matches its own pods",
                d.name()
            );
        }
    }
    let services = of_kind(&docs, "Service");
    assert_eq!(services.len(), deployments.len());
    for s in services {
        let selector = s.body["spec"]["selector"].as_object().unwrap();
        let selected: Vec<&&Doc> = deployments
            .iter()
            .filter(|d| {
                let labels = &d.body["spec"]["template"]["metadata"]["labels"];
                selector.iter().all(|(k, v)| &labels[k] == v)
            })
            .collect();
        assert_eq!(
            selected.len(),
            1,
            "service {} selects {selected:?}",
            s.name()
        );
        let declared: BTreeSet<String> = containers(selected[0])
            .iter()
            .flat_map(|c| c["ports"].as_array().unwrap().iter())
            .map(|p| p["name"].as_str().unwrap().to_string())
            .collect();
        for p in s.body["spec"]["ports"].as_array().unwrap() {
            let target = p["targetPort"].as_str().unwrap();
            assert!(declared.contains(target), "{}: port {target}", s.name());
        }
    }
    // The HPA and PDB point at the API.
    let api = one(&docs, "Deployment", "kirikae-api");
    let hpa = one(&docs, "HorizontalPodAutoscaler", "kirikae-api");
    assert_eq!(
        hpa.body["spec"]["scaleTargetRef"]["name"],
        json!(api.name())
    );
    let pdb = one(&docs, "PodDisruptionBudget", "kirikae-api");
    assert_eq!(
        pdb.body["spec"]["selector"], api.body["spec"]["selector"],
        "the budget covers the API's pods"
    );
    // The ServiceMonitor scrapes every Service that says it has metrics, on its ops port.
    let monitor = &of_kind(&docs, "ServiceMonitor")[0].body["spec"];
    let wanted = monitor["selector"]["matchLabels"].as_object().unwrap();
    let scraped = of_kind(&docs, "Service")
        .into_iter()
        .filter(|s| {
            wanted
                .iter()
                .all(|(k, v)| &s.body["metadata"]["labels"][k] == v)
        })
        .count();
    assert_eq!(scraped, deployments.len(), "every process is scraped");
    assert_eq!(monitor["endpoints"][0]["port"], json!("ops"));
}

#[test]
#[allow(clippy::result_large_err)] // figment::Jail's own signature
fn the_settings_the_chart_gives_are_settings_the_hub_reads() {
    let docs = render(&everything_on());
    let data = one(&docs, "ConfigMap", "kirikae-settings").body["data"]
        .as_object()
        .unwrap()
        .clone();
    let job_env = containers(one(&docs, "Job", "kirikae-migrate"))[0]["env"]
        .as_array()
        .unwrap()
        .clone();
    let api = one(&docs, "Deployment", "kirikae-api");
    let api_port = values()["ports"]["api"].as_i64().unwrap();
    figment::Jail::expect_with(|jail| {
        for (k, v) in &data {
            jail.set_env(k, v.as_str().expect("every setting is text"));
        }
        jail.set_env("KIRIKAE_DATABASE_URL", "postgres://kirikae@db/kirikae");
        let s = kirikae::config::Settings::load(None).expect("the hub accepts every setting");
        assert_eq!(s.kafka_brokers, values()["settings"]["kafka_brokers"]);
        assert_eq!(s.ops_listen.port() as i64, values()["ports"]["ops"]);
        assert_eq!(s.api_listen.port() as i64, api_port);
        assert_eq!(s.tls_dir, Path::new("/etc/kirikae/tls"));
        assert_eq!(s.connectors_dir, Path::new("/etc/kirikae/connectors"));
        Ok(())
    });
    // The migrate hook has the same settings inline (the ConfigMap may not exist yet).
    for (k, v) in &data {
        assert!(
            job_env
                .iter()
                .any(|e| e["name"] == json!(k) && &e["value"] == v),
            "the migrate job lacks {k}"
        );
    }
    // The API serves TLS from the mounted Secret, on the port the settings name.
    let c = containers(api)[0];
    assert!(
        c["ports"]
            .as_array()
            .unwrap()
            .contains(&json!({"name": "https", "containerPort": api_port}))
    );
    let mount = c["volumeMounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == json!("tls"))
        .unwrap();
    assert_eq!(mount["mountPath"], json!("/etc/kirikae/tls"));
    let tls = one(&docs, "Secret", "kirikae-tls");
    let keys: BTreeSet<&str> = tls.body["stringData"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, BTreeSet::from(["ca.pem", "server.pem", "server.key"]));
    for d in of_kind(&docs, "Deployment") {
        for c in containers(d) {
            let db = c["env"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|e| e["name"] == json!("KIRIKAE_DATABASE_URL"));
            if let Some(db) = db {
                let name = db["valueFrom"]["secretKeyRef"]["name"].as_str().unwrap();
                one(&docs, "Secret", name);
            }
        }
    }
}

#[test]
fn existing_secrets_are_used_by_name_and_none_is_created() {
    let mut v = values();
    set(&mut v, "database.existingSecret", json!("pg-credentials"));
    set(&mut v, "tls.existingSecret", json!("api-tls"));
    let docs = render(&v);
    assert!(of_kind(&docs, "Secret").is_empty());
    let api = one(&docs, "Deployment", "kirikae-api");
    assert_eq!(
        pod(api)["volumes"][0]["secret"]["secretName"],
        json!("api-tls")
    );
    let env = &containers(api)[0]["env"][0];
    assert_eq!(
        env["valueFrom"]["secretKeyRef"]["name"],
        json!("pg-credentials")
    );
}

#[test]
fn each_areas_definition_loads_as_its_connector_reads_it() {
    let docs = render(&everything_on());
    let dir = tempfile::tempdir().unwrap();
    for area in kirikae::domain::Area::ALL {
        let code = area.code();
        let name = format!("kirikae-connector-{code}");
        let cm = one(&docs, "ConfigMap", &name);
        let toml = cm.body["data"]["connector.toml"].as_str().unwrap();
        std::fs::create_dir_all(dir.path().join(code)).unwrap();
        std::fs::write(dir.path().join(code).join("connector.toml"), toml).unwrap();
        let def = kirikae::connector::definition::ConnectorDefinition::load(dir.path(), area)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(def.area, code);
        // The same definition as the repository's, so staging runs what the tests run.
        let ours = kirikae::connector::definition::ConnectorDefinition::load(
            &repo().join("connectors"),
            area,
        )
        .unwrap();
        assert_eq!(format!("{def:?}"), format!("{ours:?}"), "area {code}");

        let deployment = one(&docs, "Deployment", &name);
        let cs = containers(deployment);
        assert_eq!(
            cs[0]["command"],
            json!(["kirikae", "connector", "--area", code])
        );
        let mount = cs[0]["volumeMounts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["name"] == json!("definition"))
            .unwrap();
        assert_eq!(
            mount["mountPath"],
            json!(format!("/etc/kirikae/connectors/{code}")),
            "where connectors_dir/<area>/connector.toml is read"
        );
        let volume = pod(deployment)["volumes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["name"] == json!("definition"))
            .unwrap();
        assert_eq!(volume["configMap"]["name"], json!(name));
        // The simulator beside it listens where the definition points (sim_base_port + area).
        assert_eq!(
            cs[1]["command"],
            json!(["kirikae", "tso-sim", "--area", code])
        );
        let port = cs[1]["ports"][0]["containerPort"].as_i64().unwrap();
        let settings = kirikae::config::Settings::default();
        assert_eq!(port, i64::from(settings.sim_base_port + area.number()));
        if !def.endpoint.starts_with("file://") {
            assert!(
                def.endpoint.contains(&format!("127.0.0.1:{port}/")),
                "{}",
                def.endpoint
            );
        }
    }
}

#[test]
fn simulators_are_off_by_default() {
    let docs = render(&values());
    for d in of_kind(&docs, "Deployment") {
        assert!(
            containers(d)
                .iter()
                .all(|c| c["command"][1] != json!("tso-sim")),
            "{}",
            d.name()
        );
    }
}

#[test]
fn the_migrate_job_runs_before_install_and_upgrade_after_its_database_secret() {
    let docs = render(&values());
    let job = one(&docs, "Job", "kirikae-migrate");
    let hook = &job.body["metadata"]["annotations"];
    assert_eq!(hook["helm.sh/hook"], json!("pre-install,pre-upgrade"));
    assert_eq!(containers(job)[0]["command"], json!(["kirikae", "migrate"]));
    assert_eq!(pod(job)["restartPolicy"], json!("Never"));
    let secret = one(&docs, "Secret", "kirikae-database");
    let shook = &secret.body["metadata"]["annotations"];
    assert_eq!(shook["helm.sh/hook"], json!("pre-install,pre-upgrade"));
    let weight = |a: &Json| {
        a["helm.sh/hook-weight"]
            .as_str()
            .unwrap()
            .parse::<i32>()
            .unwrap()
    };
    assert!(
        weight(shook) < weight(hook),
        "the secret exists before the job runs"
    );
}

#[test]
fn the_projector_runs_as_one_replica_never_two_at_once() {
    let docs = render(&values());
    let p = one(&docs, "Deployment", "kirikae-projector");
    assert_eq!(p.body["spec"]["replicas"], json!(1));
    assert_eq!(p.body["spec"]["strategy"]["type"], json!("Recreate"));
    assert_eq!(containers(p)[0]["command"], json!(["kirikae", "projector"]));
    let api = one(&docs, "Deployment", "kirikae-api");
    assert_eq!(containers(api)[0]["command"], json!(["kirikae", "api"]));
}

// ---------------------------------------------------------------------------------------------
// Metrics: the spec, the dashboard and the alerts.

/// The metrics `docs/metrics.md` specifies: name → type.
fn spec() -> BTreeMap<String, String> {
    let row =
        regex::Regex::new(r"^\| `(kirikae_[a-z0-9_]+)` \| (counter|gauge|histogram) \|").unwrap();
    read(&repo().join("docs/metrics.md"))
        .lines()
        .filter_map(|l| row.captures(l))
        .map(|c| (c[1].to_string(), c[2].to_string()))
        .collect()
}

/// Whether a series name a query selects exists: a metric of the spec (a histogram's
/// `_bucket`, `_sum` and `_count` included), or Prometheus's own `up`.
fn exists(series: &str, spec: &BTreeMap<String, String>) -> bool {
    if series == "up" || spec.contains_key(series) {
        return true;
    }
    ["_bucket", "_sum", "_count"].iter().any(|suffix| {
        series
            .strip_suffix(suffix)
            .is_some_and(|base| spec.get(base).is_some_and(|t| t == "histogram"))
    })
}

/// The series names a PromQL expression selects; panics when it does not parse.
fn series_of(expr: &str) -> Vec<String> {
    use promql_parser::parser::Expr;
    use promql_parser::util::{ExprVisitor, walk_expr};
    struct Names(Vec<String>);
    impl ExprVisitor for Names {
        type Error = ();
        fn pre_visit(&mut self, e: &Expr) -> Result<bool, ()> {
            match e {
                Expr::VectorSelector(vs) => self.0.extend(vs.name.clone()),
                Expr::MatrixSelector(ms) => self.0.extend(ms.vs.name.clone()),
                _ => {}
            }
            Ok(true)
        }
    }
    let parsed =
        promql_parser::parser::parse(expr).unwrap_or_else(|e| panic!("not PromQL: {expr}\n{e}"));
    let mut names = Names(Vec::new());
    walk_expr(&mut names, &parsed).unwrap();
    names.0
}

#[test]
fn docs_metrics_md_lists_every_metric_the_code_registers_and_no_other() {
    let source = read(&repo().join("src/metrics.rs"));
    // The metrics the hub registers, not those its own unit tests make up.
    let code = source.split("#[cfg(test)]").next().unwrap();
    let registered = regex::Regex::new(
        r#"(?s)(counter|gauge|gauge_vec|histogram)\(\s*&r,\s*"(kirikae_[a-z0-9_]+)""#,
    )
    .unwrap();
    let in_code: BTreeMap<String, String> = registered
        .captures_iter(code)
        .map(|c| {
            let kind = match &c[1] {
                "gauge_vec" => "gauge",
                k => k,
            };
            (c[2].to_string(), kind.to_string())
        })
        .collect();
    assert!(in_code.len() >= 15, "found {in_code:?}");
    assert_eq!(spec(), in_code, "docs/metrics.md and src/metrics.rs differ");
    // And what the code exports at run time carries those names.
    kirikae::metrics::ProjectorLag { seconds: 0 }.emit();
    assert!(kirikae::metrics::render().contains("kirikae_projector_lag_seconds 0"));
}

#[test]
fn the_dashboard_loads_as_a_grafana_dashboard_and_queries_only_metrics_that_exist() {
    let text = read(&chart().join("dashboards/kirikae.json"));
    let dash: Json = serde_json::from_str(&text).expect("the dashboard is JSON");
    // What Grafana's dashboard schema requires of a dashboard and of each panel.
    assert!(dash["title"].is_string() && dash["uid"].is_string());
    assert!(dash["schemaVersion"].as_i64().unwrap() >= 36);
    let spec = spec();
    let mut ids = BTreeSet::new();
    let mut queried = BTreeSet::new();
    let panels = dash["panels"].as_array().unwrap();
    for p in panels {
        let title = p["title"].as_str().unwrap();
        assert!(
            ids.insert(p["id"].as_i64().unwrap()),
            "{title}: duplicate id"
        );
        assert!(["timeseries", "stat"].contains(&p["type"].as_str().unwrap()));
        let pos = &p["gridPos"];
        for k in ["h", "w", "x", "y"] {
            assert!(pos[k].is_u64(), "{title}: gridPos.{k}");
        }
        assert!(
            pos["x"].as_u64().unwrap() + pos["w"].as_u64().unwrap() <= 24,
            "{title}"
        );
        let targets = p["targets"].as_array().unwrap();
        assert!(!targets.is_empty(), "{title}: no query");
        for t in targets {
            let expr = t["expr"].as_str().unwrap();
            let series = series_of(expr);
            assert!(!series.is_empty(), "{title}: {expr} selects nothing");
            for s in series {
                assert!(exists(&s, &spec), "{title}: {s} is not in docs/metrics.md");
                queried.insert(
                    s.trim_end_matches("_bucket")
                        .trim_end_matches("_count")
                        .to_string(),
                );
            }
        }
    }
    // What an operations team looks at first is on it.
    for wanted in [
        "kirikae_consumer_lag_records",
        "kirikae_connector_circuit_state",
        "kirikae_http_requests_total",
        "kirikae_logins_total",
        "kirikae_requests_accepted_total",
        "kirikae_request_e2e_seconds",
        "kirikae_requests_refused_total",
        "kirikae_dlq_records_total",
        "kirikae_projector_lag_seconds",
        "kirikae_connector_stalled",
        "kirikae_intermediations_pending",
    ] {
        assert!(queried.contains(wanted), "the dashboard lacks {wanted}");
    }
    // The chart ships this very file.
    let docs = render(&everything_on());
    let cm = one(&docs, "ConfigMap", "kirikae-dashboard");
    let shipped: Json =
        serde_json::from_str(cm.body["data"]["kirikae.json"].as_str().unwrap()).unwrap();
    assert_eq!(shipped, dash);
}

/// Grafana's own dashboard JSON schema (`tests/data/grafana-dashboard.jsonschema.json`, from
/// Grafana's dashboard kind; its source is in `tests/data/README.md`), applied by Python's
/// `jsonschema` (draft-07, installed with the test tools): the dashboard is what Grafana
/// accepts on import, every panel with its `gridPos`, `type`, `targets` and `datasource` typed
/// as Grafana types them, and no key Grafana does not know.
#[test]
fn the_dashboard_is_valid_against_grafanas_dashboard_json_schema() {
    let schema = repo().join("tests/data/grafana-dashboard.jsonschema.json");
    let dashboard = chart().join("dashboards/kirikae.json");
    let errors = grafana_schema_errors(&schema, &dashboard);
    assert!(errors.is_empty(), "{}", errors.join("\n"));

    // The check can fail: a panel without its height, or with a key Grafana does not know.
    let mut broken: Json = serde_json::from_str(&read(&dashboard)).unwrap();
    broken["panels"][0]["gridPos"]
        .as_object_mut()
        .unwrap()
        .remove("h");
    broken["panels"][1]["legend"] = Json::Bool(true);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.json");
    std::fs::write(&path, broken.to_string()).unwrap();
    assert_eq!(grafana_schema_errors(&schema, &path).len(), 2);
}

/// The schema's complaints about `document`, one line each.
fn grafana_schema_errors(schema: &Path, document: &Path) -> Vec<String> {
    let script = "import json, sys, jsonschema\n\
        schema = json.load(open(sys.argv[1]))\n\
        doc = json.load(open(sys.argv[2]))\n\
        for e in jsonschema.Draft7Validator(schema).iter_errors(doc):\n    \
            print(list(e.absolute_path), e.message[:300])\n";
    let present = std::process::Command::new("python3")
        .args(["-c", "import jsonschema"])
        .status()
        .is_ok_and(|s| s.success());
    if !present {
        let installed = std::process::Command::new("python3")
            .args(["-m", "pip", "install", "--quiet", "jsonschema"])
            .status()
            .expect("pip");
        assert!(installed.success(), "pip install jsonschema failed");
    }
    let out = std::process::Command::new("python3")
        .args(["-c", script])
        .arg(schema)
        .arg(document)
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn every_alert_parses_names_only_metrics_that_exist_and_has_a_runbook_entry() {
    let docs = render(&everything_on());
    let rule = &of_kind(&docs, "PrometheusRule")[0].body;
    let spec = spec();
    let runbook = read(&repo().join("docs/operations.md"));
    let anchors: BTreeSet<String> = runbook
        .lines()
        .filter_map(|l| l.strip_prefix("### "))
        .map(|h| h.trim().to_lowercase())
        .collect();
    let mut alerts = BTreeSet::new();
    for rule in rule["spec"]["groups"][0]["rules"].as_array().unwrap() {
        let name = rule["alert"].as_str().unwrap();
        assert!(alerts.insert(name.to_string()), "{name} twice");
        let expr = rule["expr"].as_str().unwrap();
        for s in series_of(expr) {
            assert!(exists(&s, &spec), "{name}: {s} is not in docs/metrics.md");
        }
        assert!(
            ["page", "ticket"].contains(&rule["labels"]["severity"].as_str().unwrap()),
            "{name}"
        );
        if let Some(f) = rule["for"].as_str() {
            promql_parser::util::parse_duration(f).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
        let link = rule["annotations"]["runbook"].as_str().unwrap();
        let anchor = link.strip_prefix("docs/operations.md#").unwrap();
        assert_eq!(anchor, name.to_lowercase());
        assert!(
            anchors.contains(anchor),
            "docs/operations.md has no ### {name}"
        );
    }
    for wanted in [
        "KirikaeOperatorFailing",
        "KirikaeConnectorStalled",
        "KirikaeDeadLetters",
        "KirikaeProjectorLagging",
        "KirikaeProjectorStopped",
        "KirikaeE2eSlow",
        "KirikaeCertificateExpiring",
    ] {
        assert!(alerts.contains(wanted), "no alert {wanted}");
    }
}
