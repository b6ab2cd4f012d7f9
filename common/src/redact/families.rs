//! The token families: one row per well-known secret shape, as data.
//!
//! The shapes follow gitleaks' default rule set (its public reference for token formats), plus
//! newer providers. A row has a rule name, the literals one of which every match contains (its
//! *anchors*: as written for a row whose regex heeds case, in any case for one that ignores
//! it; a line's rules run only where an anchor occurs), and the regex. Rows come in two kinds:
//!
//! * `tok` — a self-identifying token (`ghp_…`, `AKIA…`): the whole match is replaced.
//! * `kw` — a service name, then within a short distance an assignment, then a value of the
//!   service's key shape (`ALGOLIA_KEY=…`, `"heroku": {"api_key": "…"}`): only the value is.
//!
//! Regexes run on the matching *view* of a line (terminal escapes removed, runs of JSON
//! backslashes collapsed), so they never need to allow for `\"` or `\\n`. Every regex is
//! ASCII-only. A token's length is open-ended (`{20,}`) where the format allows it, so a longer
//! token is replaced whole rather than cut at an arbitrary cap.
//!
//! The table runs by kind of service: AI providers, code hosts, cloud providers, CI systems and
//! package registries, messaging bots and webhooks, payment providers, database URLs, then the
//! keyword rows. `families/tests.rs` generates every shape each row's regex allows and holds
//! the redactor to them.

/// One row of the table.
#[derive(Debug)]
pub(crate) struct Family {
    pub name: &'static str,
    pub anchors: &'static [&'static str],
    pub regex: String,
}

/// What may sit between a service name and its value: more name (`_API_KEY`), closing quotes,
/// blanks and an assignment operator, then opening quotes.
const KW_GAP: &str = r#"[a-z0-9_.\-]{0,24}["']?[ \t]*(?:=|:|:=|=>|,)[ \t]*["']?"#;

macro_rules! tok {
    ($name:literal, [$($a:literal),+], $re:literal) => {
        ($name, &[$($a),+] as &[&str], concat!(r"(?-u)", $re), false)
    };
}

macro_rules! kw {
    ($name:literal, [$($a:literal),+], $value:literal) => {
        ($name, &[$($a),+] as &[&str], $value, true)
    };
}

/// `(name, anchors, regex or value shape, keyword row?)`.
type Row = (&'static str, &'static [&'static str], &'static str, bool);

const ROWS: &[Row] = &[
    // AI providers
    tok!(
        "anthropic",
        ["sk-ant-"],
        r"\bsk-ant-(?:api\d\d|admin\d\d|oat\d\d|ort\d\d|sid\d\d)-[A-Za-z0-9_-]{20,}"
    ),
    tok!(
        "openai",
        ["sk-proj-", "sk-svcacct-", "sk-admin-", "sk-None-"],
        r"\bsk-(?:proj|svcacct|admin|None)-[A-Za-z0-9_-]{20,}"
    ),
    tok!(
        "openai_legacy",
        ["T3BlbkFJ"],
        r"\bsk-[A-Za-z0-9]{20}T3BlbkFJ[A-Za-z0-9]{20}\b"
    ),
    tok!("sk", ["sk-"], r"\bsk-[A-Za-z0-9]{24,}\b"),
    // OpenRouter's keys hold dashes, which the `sk-` row's value does not.
    tok!("openrouter", ["sk-or-v1-"], r"\bsk-or-v1-[a-f0-9]{64}\b"),
    tok!("groq", ["gsk_"], r"\bgsk_[A-Za-z0-9]{40,}"),
    tok!("replicate", ["r8_"], r"\br8_[A-Za-z0-9]{30,}"),
    tok!("xai", ["xai-"], r"\bxai-[A-Za-z0-9]{60,}"),
    tok!("perplexity", ["pplx-"], r"\bpplx-[A-Za-z0-9]{40,}"),
    tok!("huggingface", ["hf_"], r"\bhf_[A-Za-z]{30,}\b"),
    tok!(
        "huggingface_org",
        ["api_org_"],
        r"\bapi_org_[A-Za-z]{30,}\b"
    ),
    tok!("cohere", ["co_"], r"\bco_[A-Za-z0-9]{40}\b"),
    tok!(
        "langsmith",
        ["lsv2_pt_", "lsv2_sk_"],
        r"\blsv2_(?:pt|sk)_[a-f0-9]{32}_[a-f0-9]{10}\b"
    ),
    tok!("deepgram", ["dg_"], r"\bdg_[A-Za-z0-9]{40}\b"),
    tok!("elevenlabs", ["sk_"], r"\bsk_[a-f0-9]{48}\b"),
    tok!("privateai", ["pai_"], r"\bpai_[A-Za-z0-9]{32,}\b"),
    // Code hosts
    tok!(
        "github",
        ["ghp_", "gho_", "ghu_", "ghs_", "ghr_"],
        r"\bgh[pousr]_[A-Za-z0-9]{30,}"
    ),
    tok!(
        "github_fine_grained",
        ["github_pat_"],
        r"\bgithub_pat_[A-Za-z0-9_]{40,}"
    ),
    tok!(
        "gitlab",
        [
            "glpat-", "glptt-", "gldt-", "glrt-", "glcbt-", "glsoat-", "glffct-", "glimt-",
            "glft-", "glagent-", "gloas-"
        ],
        r"\bgl(?:pat|ptt|dt|rt|cbt|soat|ffct|imt|ft|agent|oas)-[A-Za-z0-9_.-]{20,}"
    ),
    tok!(
        "gitlab_runner_registration",
        ["GR1348941"],
        r"\bGR1348941[A-Za-z0-9_-]{20,}"
    ),
    tok!(
        "gitlab_session",
        ["_gitlab_session="],
        r"_gitlab_session=(?P<secret>[a-z0-9]{32})"
    ),
    tok!(
        "bitbucket_app_password",
        ["ATBB"],
        r"\bATBB[A-Za-z0-9_=.-]{28,}"
    ),
    tok!(
        "atlassian",
        ["ATATT3", "ATCTT3"],
        r"\bAT[AC]TT3[A-Za-z0-9_=.-]{60,}"
    ),
    tok!(
        "gitea",
        ["gitea"],
        r"(?i)\bgitea[a-z0-9_.-]{0,20}(?:token|key|secret)[^A-Za-z0-9\n]{1,5}(?P<secret>[a-f0-9]{40})\b"
    ),
    tok!(
        "sourcegraph",
        ["sgp_"],
        r"\bsgp_(?:[a-f0-9]{16}_)?[a-f0-9]{40}\b"
    ),
    tok!("sourcehut", ["AFRC"], r"\bAFRC[A-Za-z0-9_-]{40,}"),
    // Cloud providers
    tok!(
        "aws_access_key",
        [
            "AKIA", "ASIA", "ABIA", "ACCA", "A3T", "AGPA", "AIDA", "AROA", "AIPA", "ANPA", "ANVA",
            "APKA"
        ],
        r"\b(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|APKA)[A-Z2-7]{16}\b"
    ),
    tok!(
        "aws_session_token",
        ["FwoGZXIvYXdzE", "IQoJb3JpZ2luX2Vj"],
        r"\b(?:FwoGZXIvYXdzE|IQoJb3JpZ2luX2Vj)[A-Za-z0-9/+=]{40,}"
    ),
    tok!(
        "aws_secret_key",
        ["aws"],
        r#"(?i)\baws[a-z0-9_.\-]{0,24}secret(?:[_.\-]?access)?(?:[_.\-]?key)?["']?[ \t]*[:=][ \t]*["']?(?P<secret>[A-Za-z0-9/+=]{40})\b"#
    ),
    tok!("google_api_key", ["AIza"], r"\bAIza[A-Za-z0-9_-]{35}"),
    tok!(
        "google_oauth_secret",
        ["GOCSPX-"],
        r"\bGOCSPX-[A-Za-z0-9_-]{28}"
    ),
    tok!(
        "google_oauth_token",
        ["ya29."],
        r"\bya29\.[A-Za-z0-9_-]{30,}"
    ),
    tok!(
        "google_refresh_token",
        ["1//0"],
        r"\b1//0[A-Za-z0-9_-]{40,}"
    ),
    tok!(
        "gcp_service_account",
        ["private_key_id"],
        r#""private_key_id"[ \t]*:[ \t]*"(?P<secret>[a-f0-9]{40})""#
    ),
    tok!(
        "azure_ad_client_secret",
        ["Q~"],
        r"\b[A-Za-z0-9_~.]{3}\dQ~[A-Za-z0-9_~.-]{31,34}"
    ),
    tok!(
        "azure_storage_key",
        ["AccountKey="],
        r"AccountKey=(?P<secret>[A-Za-z0-9+/=]{40,100})"
    ),
    tok!(
        "azure_sas",
        ["sig="],
        r"[?&]sig=(?P<secret>[A-Za-z0-9%+/=]{30,100})"
    ),
    tok!(
        "signed_url",
        ["Signature="],
        r"[?&](?:X-Amz-|X-Goog-)?Signature=(?P<secret>[A-Za-z0-9%+/=_~-]{16,2048})"
    ),
    tok!(
        "azure_devops",
        ["azdo", "ado"],
        r"(?i)\b(?:azdo|ado)[a-z0-9_.\-]{0,20}(?:token|pat)[^A-Za-z0-9\n]{1,5}(?P<secret>[a-z0-9]{52})\b"
    ),
    tok!("alibaba_access_key", ["LTAI"], r"\bLTAI[A-Za-z0-9]{20}\b"),
    tok!(
        "digitalocean",
        ["dop_v1_", "doo_v1_", "dor_v1_"],
        r"\bdo[opr]_v1_[a-f0-9]{64}"
    ),
    tok!(
        "ibm_cloud",
        ["ibm"],
        r#"(?i)\bibm[a-z0-9_.\-]{0,20}(?:key|token|secret)["']?[ \t]*[:=][ \t]*["']?(?P<secret>[a-z0-9_-]{44})\b"#
    ),
    tok!("yandex_api_key", ["AQVN"], r"\bAQVN[A-Za-z0-9_-]{35,38}\b"),
    tok!(
        "yandex_access_token",
        ["t1."],
        r"\bt1\.[A-Z0-9a-z_-]+[=]{0,2}\.[A-Z0-9a-z_-]{86}[=]{0,2}"
    ),
    tok!(
        "yandex_aws_access_token",
        ["YC"],
        r"\bYC[A-Za-z0-9_-]{38}\b"
    ),
    tok!("tencent_secret_id", ["AKID"], r"\bAKID[A-Za-z0-9]{32}\b"),
    tok!(
        "oracle_ocid",
        ["ocid1.", "oc1.."],
        r"\bocid1\.(?:user|tenancy|credential)\.oc1\.\.[a-z0-9]{60}"
    ),
    tok!("scaleway", ["SCW"], r"\bSCW[A-Z0-9]{17}\b"),
    tok!(
        "linode",
        ["linode"],
        r#"(?i)\blinode[a-z0-9_.\-]{0,20}(?:token|key)["']?[ \t]*[:=][ \t]*["']?(?P<secret>[a-f0-9]{64})\b"#
    ),
    tok!(
        "vultr",
        ["vultr"],
        r#"(?i)\bvultr[a-z0-9_.\-]{0,20}(?:key|token)["']?[ \t]*[:=][ \t]*["']?(?P<secret>[A-Z0-9]{36})\b"#
    ),
    tok!(
        "hetzner",
        ["hcloud"],
        r#"(?i)\bhcloud[a-z0-9_.\-]{0,20}token["']?[ \t]*[:=][ \t]*["']?(?P<secret>[A-Za-z0-9]{64})\b"#
    ),
    tok!(
        "cloudflare_origin_ca",
        ["v1.0-"],
        r"\bv1\.0-[a-f0-9]{24}-[a-f0-9]{146}"
    ),
    tok!("heroku_v2", ["HRKU-"], r"\bHRKU-[A-Za-z0-9_-]{60}"),
    tok!(
        "fly",
        ["fo1_", "fm1a_", "fm1r_", "fm2_"],
        r"\b(?:fo1_[A-Za-z0-9_-]{43}|fm1[ar]_[A-Za-z0-9+/=]{100,}|fm2_[A-Za-z0-9+/=]{100,})"
    ),
    tok!("netlify", ["nfp_"], r"\bnfp_[A-Za-z0-9]{36,}"),
    tok!(
        "vercel",
        ["vcp_", "vci_", "vca_", "vcr_", "vck_"],
        r"\bvc[pirak]_[A-Za-z0-9]{24,}"
    ),
    tok!("render", ["rnd_"], r"\brnd_[A-Za-z0-9]{32,}"),
    tok!(
        "supabase",
        ["sbp_", "sb_secret_"],
        r"\b(?:sbp_[a-f0-9]{40}|sb_secret_[A-Za-z0-9_-]{20,})"
    ),
    tok!(
        "planetscale",
        ["pscale_tkn_", "pscale_oauth_", "pscale_pw_"],
        r"\bpscale_(?:tkn|oauth|pw)_[A-Za-z0-9_.=-]{32,64}"
    ),
    tok!("neon", ["napi_"], r"\bnapi_[a-z0-9]{64}\b"),
    tok!(
        "tailscale",
        ["tskey-"],
        r"\btskey-[a-z]+-[A-Za-z0-9]{10,}-[A-Za-z0-9]{20,}"
    ),
    tok!(
        "doppler",
        [
            "dp.pt.",
            "dp.st.",
            "dp.sa.",
            "dp.ct.",
            "dp.scim.",
            "dp.audit."
        ],
        r"\bdp\.(?:pt|st|sa|ct|scim|audit)\.[A-Za-z0-9]{40,}"
    ),
    tok!("pulumi", ["pul-"], r"\bpul-[a-f0-9]{40}\b"),
    tok!(
        "terraform_cloud",
        ["atlasv1"],
        r"\b[A-Za-z0-9]{14}\.atlasv1\.[A-Za-z0-9=_-]{60,}"
    ),
    tok!(
        "vault",
        ["hvs.", "hvb.", "hvr."],
        r"\bhv[sbr]\.[A-Za-z0-9_-]{24,}"
    ),
    tok!(
        "vault_legacy",
        ["vault"],
        r#"(?i)\bvault[a-z0-9_.\-]{0,20}token["']?[ \t]*[:=][ \t]*["']?(?P<secret>s\.[A-Za-z0-9]{24})\b"#
    ),
    tok!("infracost", ["ico-"], r"\bico-[A-Za-z0-9]{32}\b"),
    tok!("openshift", ["sha256~"], r"\bsha256~[A-Za-z0-9_-]{43}"),
    tok!(
        "kubernetes_token",
        ["kubeadm"],
        r"kubeadm\b[^\n]*?\b(?P<secret>[a-z0-9]{6}\.[a-z0-9]{16})\b"
    ),
    // A cluster's join token: Docker Swarm's, and K3s' server token (the CA's hash, then
    // `::server:` and the password).
    tok!(
        "docker_swarm",
        ["SWMTKN-1-"],
        r"\bSWMTKN-1-[0-9a-z]{50}-[0-9a-z]{25}\b"
    ),
    tok!(
        "k3s_token",
        ["K10"],
        r"\bK10[0-9a-f]{64}::[A-Za-z0-9_.-]{1,32}:[A-Za-z0-9]{8,}"
    ),
    tok!(
        "harness",
        ["pat.", "sat."],
        r"\b(?:pat|sat)\.[A-Za-z0-9_-]{22}\.[a-f0-9]{24}\.[A-Za-z0-9]{20}"
    ),
    tok!("octopus_deploy", ["API-"], r"\bAPI-[A-Z0-9]{26}\b"),
    tok!(
        "age_secret_key",
        ["AGE-SECRET-KEY-1"],
        r"\bAGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58}"
    ),
    tok!(
        "putty_encrypted_key",
        ["Private-MAC:"],
        r"Private-MAC: (?P<secret>[a-f0-9]{40,64})"
    ),
    tok!(
        "ssh_agent_token",
        ["SSH_AUTH"],
        r"\bSSH_AUTH_TOKEN=(?P<secret>\S{16,})"
    ),
    // CI systems and package registries
    tok!("npm", ["npm_"], r"\bnpm_[A-Za-z0-9]{36,}"),
    tok!(
        "npmrc_auth",
        ["_auth"],
        r#"(?:^|[ \t:])(?:_authToken|_auth)[ \t]*=[ \t]*["']?(?P<secret>[A-Za-z0-9+/=._-]{8,})"#
    ),
    tok!("pypi", ["pypi-AgE"], r"\bpypi-AgE[A-Za-z0-9_-]{40,}"),
    tok!("rubygems", ["rubygems_"], r"\brubygems_[a-f0-9]{48}\b"),
    tok!("clojars", ["CLOJARS_"], r"\bCLOJARS_[a-z0-9]{60}\b"),
    tok!("nuget", ["oy2"], r"\boy2[a-z0-9]{43}\b"),
    tok!("crates_io", ["cio"], r"\bcio[A-Za-z0-9]{32}\b"),
    tok!(
        "dockerhub",
        ["dckr_pat_", "dckr_oat_"],
        r"\bdckr_(?:pat|oat)_[A-Za-z0-9_-]{27,}"
    ),
    tok!(
        "docker_config_auth",
        ["\"auth\""],
        r#""auth"[ \t]*:[ \t]*"(?P<secret>[A-Za-z0-9+/=]{12,})""#
    ),
    tok!(
        "jfrog",
        ["AKCp", "cmVmdGtu"],
        r"\b(?:AKCp[A-Za-z0-9]{69}|cmVmdGtuOjAxOj[A-Za-z0-9]{50,})"
    ),
    tok!(
        "artifactory_identity",
        ["eyJ2ZXIiOiIy"],
        r"\beyJ2ZXIiOiIy[A-Za-z0-9_-]{50,}"
    ),
    tok!("buildkite", ["bkua_"], r"\bbkua_[a-f0-9]{40}\b"),
    tok!(
        "circleci",
        ["CCIPAT_", "CCIPRJ_"],
        r"\bCCIP(?:AT|RJ)_[A-Za-z0-9]{22}_[a-f0-9]{40}\b"
    ),
    tok!(
        "codecov",
        ["codecov"],
        r#"(?i)\bcodecov[a-z0-9_.\-]{0,20}(?:token|key)["']?[ \t]*[:=][ \t]*["']?(?P<secret>[a-f0-9-]{32,36})\b"#
    ),
    tok!(
        "sonar",
        ["squ_", "sqp_", "sqa_"],
        r"\bsq[upa]_[a-f0-9]{40}\b"
    ),
    tok!(
        "snyk",
        ["snyk"],
        r#"(?i)\bsnyk[a-z0-9_.\-]{0,20}(?:token|key)["']?[ \t]*[:=][ \t]*["']?(?P<secret>[a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12})\b"#
    ),
    tok!(
        "travis",
        ["travis"],
        r#"(?i)\btravis[a-z0-9_.\-]{0,20}token["']?[ \t]*[:=][ \t]*["']?(?P<secret>[a-z0-9]{22})\b"#
    ),
    tok!(
        "drone",
        ["drone"],
        r#"(?i)\bdrone[a-z0-9_.\-]{0,20}token["']?[ \t]*[:=][ \t]*["']?(?P<secret>[a-z0-9]{32})\b"#
    ),
    tok!("prefect", ["pnu_"], r"\bpnu_[A-Za-z0-9]{36}\b"),
    tok!("readme", ["rdme_"], r"\brdme_[a-z0-9]{70}\b"),
    tok!("postman", ["PMAK-"], r"\bPMAK-[a-f0-9]{24}-[a-f0-9]{34}\b"),
    tok!(
        "defined_networking",
        ["dnkey-"],
        r"\bdnkey-[a-z0-9=_-]{26}-[a-z0-9=_-]{52}"
    ),
    tok!("scalingo", ["tk-us-"], r"\btk-us-[A-Za-z0-9_-]{48}"),
    tok!("frameio", ["fio-u-"], r"\bfio-u-[A-Za-z0-9_=-]{64}"),
    tok!("figma", ["figd_", "figu_"], r"\bfig[du]_[A-Za-z0-9_-]{40,}"),
    tok!(
        "linear",
        ["lin_api_", "lin_oauth_"],
        r"\blin_(?:api|oauth)_[A-Za-z0-9]{40}\b"
    ),
    tok!(
        "notion",
        ["ntn_", "secret_"],
        r"\b(?:ntn_[A-Za-z0-9]{46}|secret_[A-Za-z0-9]{43})\b"
    ),
    tok!(
        "airtable_pat",
        ["pat"],
        r"\bpat[A-Za-z0-9]{14}\.[a-f0-9]{64}\b"
    ),
    tok!(
        "asana",
        ["asana"],
        r#"(?i)\basana[a-z0-9_.\-]{0,20}(?:token|secret|key)["']?[ \t]*[:=][ \t]*["']?(?P<secret>[0-9]/[0-9]{16}:[A-Za-z0-9]{32}|[a-z0-9]{32})\b"#
    ),
    tok!("clickup", ["pk_"], r"\bpk_[0-9]{6,8}_[A-Z0-9]{32}\b"),
    tok!(
        "monday",
        ["monday"],
        r#"(?i)\bmonday[a-z0-9_.\-]{0,20}(?:token|key)["']?[ \t]*[:=][ \t]*["']?(?P<secret>eyJ[A-Za-z0-9_.-]{100,})"#
    ),
    tok!("typeform", ["tfp_"], r"\btfp_[A-Za-z0-9_.=-]{59}"),
    tok!(
        "settlemint",
        ["sm_pat_", "sm_aat_", "sm_sat_"],
        r"\bsm_(?:pat|aat|sat)_[A-Za-z0-9]{16}\b"
    ),
    tok!(
        "duffel",
        ["duffel_test_", "duffel_live_"],
        r"\bduffel_(?:test|live)_[A-Za-z0-9_=-]{43}"
    ),
    tok!(
        "shippo",
        ["shippo_live_", "shippo_test_"],
        r"\bshippo_(?:live|test)_[a-f0-9]{40}\b"
    ),
    tok!("easypost", ["EZAK", "EZTK"], r"\bEZ[AT]K[A-Za-z0-9]{54}\b"),
    tok!(
        "intra42",
        ["s-s4t2ud-", "s-s4t2af-"],
        r"\bs-s4t2(?:ud|af)-[a-f0-9]{64}\b"
    ),
    tok!(
        "authress",
        ["sc_", "ext_", "scauth_", "authress_", "acc_", "acc-"],
        r"\b(?:sc|ext|scauth|authress)_[a-z0-9]{5,30}\.[a-z0-9]{4,6}\.acc[_-][a-z0-9-]{10,32}\.[A-Za-z0-9+/_=-]{30,120}"
    ),
    tok!("adobe_client_secret", ["p8e-"], r"\bp8e-[A-Za-z0-9]{32}\b"),
    tok!(
        "dynatrace",
        ["dt0c01."],
        r"\bdt0c01\.[A-Z0-9]{24}\.[A-Z0-9]{64}\b"
    ),
    tok!(
        "grafana_cloud",
        ["glc_"],
        r"\bglc_[A-Za-z0-9+/]{32,400}={0,2}"
    ),
    tok!(
        "grafana_service_account",
        ["glsa_"],
        r"\bglsa_[A-Za-z0-9]{32}_[A-Fa-f0-9]{8}\b"
    ),
    tok!(
        "grafana_api_key",
        ["eyJrIjoi"],
        r"\beyJrIjoi[A-Za-z0-9]{70,400}={0,2}"
    ),
    tok!(
        "sentry",
        ["sntrys_", "sntryu_"],
        r"\b(?:sntrys_eyJ[A-Za-z0-9+/=_-]{80,}|sntryu_[a-f0-9]{64})"
    ),
    tok!(
        "sentry_dsn",
        ["sentry.io"],
        r"https?://(?P<secret>[a-f0-9]{32})@[a-z0-9.]*sentry\.io"
    ),
    tok!(
        "new_relic",
        ["NRAK-", "NRII-", "NRJS-", "NRAA-", "NRRA-"],
        r"\bNR(?:AK|II|JS|AA|RA)-[A-Za-z0-9]{19,32}\b"
    ),
    tok!(
        "datadog",
        ["datadog", "dd"],
        r#"(?i)\b(?:datadog|dd)[a-z0-9_.\-]{0,20}(?:api|app|application)?[_.\-]?key["']?[ \t]*[:=][ \t]*["']?(?P<secret>[a-f0-9]{32}|[a-f0-9]{40})\b"#
    ),
    tok!(
        "honeycomb",
        ["hcaik_", "hcxik_"],
        r"\bhc[ax]ik_[a-z0-9]{58}\b"
    ),
    tok!(
        "logz",
        ["logz"],
        r#"(?i)\blogz[a-z0-9_.\-]{0,20}token["']?[ \t]*[:=][ \t]*["']?(?P<secret>[A-Za-z]{32})\b"#
    ),
    tok!(
        "sumologic",
        ["sumo"],
        r#"(?i)\bsumo[a-z0-9_.\-]{0,20}(?:access|key|token)[a-z_]{0,10}["']?[ \t]*[:=][ \t]*["']?(?P<secret>su[A-Za-z0-9]{12}|[A-Za-z0-9]{64})\b"#
    ),
    tok!(
        "pagerduty",
        ["pagerduty"],
        r#"(?i)\bpagerduty[a-z0-9_.\-]{0,20}(?:key|token)["']?[ \t]*[:=][ \t]*["']?(?P<secret>[A-Za-z0-9_+-]{20})\b"#
    ),
    tok!(
        "opsgenie",
        ["opsgenie"],
        r#"(?i)\bopsgenie[a-z0-9_.\-]{0,20}(?:key|token)["']?[ \t]*[:=][ \t]*["']?(?P<secret>[a-f0-9-]{36})\b"#
    ),
    tok!(
        "launchdarkly",
        ["api-", "sdk-", "mob-"],
        r"\b(?:api|sdk|mob)-[a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12}\b"
    ),
    tok!(
        "mapbox",
        ["pk.eyJ", "sk.eyJ"],
        r"\b[ps]k\.eyJ[A-Za-z0-9_-]{30,}\.[A-Za-z0-9_-]{20,}"
    ),
    tok!(
        "algolia",
        ["algolia"],
        r#"(?i)\balgolia[a-z0-9_.\-]{0,20}(?:key|token|secret)["']?[ \t]*[:=][ \t]*["']?(?P<secret>[a-z0-9]{32})\b"#
    ),
    tok!(
        "contentful",
        ["contentful"],
        r#"(?i)\bcontentful[a-z0-9_.\-]{0,20}(?:key|token)["']?[ \t]*[:=][ \t]*["']?(?P<secret>[A-Za-z0-9=_-]{43})"#
    ),
    tok!("mailchimp", ["-us"], r"\b[a-f0-9]{32}-us[0-9]{1,2}\b"),
    tok!(
        "mailgun",
        ["key-", "pubkey-"],
        r"\b(?:pub)?key-[a-f0-9]{32}\b"
    ),
    tok!(
        "mailgun_signing",
        ["mailgun"],
        r#"(?i)\bmailgun[a-z0-9_.\-]{0,20}(?:key|secret)["']?[ \t]*[:=][ \t]*["']?(?P<secret>[a-h0-9]{32}-[a-h0-9]{8}-[a-h0-9]{8})\b"#
    ),
    tok!(
        "sendgrid",
        ["SG."],
        r"\bSG\.[A-Za-z0-9_-]{16,32}\.[A-Za-z0-9_-]{16,64}"
    ),
    tok!(
        "sendinblue",
        ["xkeysib-", "xsmtpsib-"],
        r"\bx(?:key|smtp)sib-[a-f0-9]{64}-[A-Za-z0-9]{16}\b"
    ),
    tok!(
        "postmark",
        ["postmark"],
        r#"(?i)\bpostmark[a-z0-9_.\-]{0,20}(?:token|key)["']?[ \t]*[:=][ \t]*["']?(?P<secret>[a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12})\b"#
    ),
    tok!("mandrill", ["md-"], r"\bmd-[A-Za-z0-9_-]{22}\b"),
    tok!(
        "mailjet",
        ["mailjet"],
        r#"(?i)\bmailjet[a-z0-9_.\-]{0,20}(?:key|secret)["']?[ \t]*[:=][ \t]*["']?(?P<secret>[a-f0-9]{32})\b"#
    ),
    tok!("resend", ["re_"], r"\bre_[A-Za-z0-9]{8}_[A-Za-z0-9]{24}\b"),
    tok!("twilio", ["SK", "AC"], r"\b(?:SK|AC)[a-f0-9]{32}\b"),
    tok!(
        "twilio_auth",
        ["twilio"],
        r#"(?i)\btwilio[a-z0-9_.\-]{0,20}(?:token|secret|key)["']?[ \t]*[:=][ \t]*["']?(?P<secret>[a-f0-9]{32})\b"#
    ),
    tok!(
        "messagebird",
        ["messagebird", "message_bird", "message-bird"],
        r#"(?i)\bmessage[_-]?bird[a-z0-9_.\-]{0,20}(?:key|token)["']?[ \t]*[:=][ \t]*["']?(?P<secret>[a-z0-9]{25})\b"#
    ),
    tok!(
        "vonage",
        ["vonage", "nexmo"],
        r#"(?i)\b(?:vonage|nexmo)[a-z0-9_.\-]{0,20}(?:secret|key)["']?[ \t]*[:=][ \t]*["']?(?P<secret>[A-Za-z0-9]{16})\b"#
    ),
    tok!(
        "plivo",
        ["plivo"],
        r#"(?i)\bplivo[a-z0-9_.\-]{0,20}(?:token|secret)["']?[ \t]*[:=][ \t]*["']?(?P<secret>[A-Za-z0-9]{40})\b"#
    ),
    tok!(
        "pusher",
        ["pusher"],
        r#"(?i)\bpusher[a-z0-9_.\-]{0,20}(?:secret|key)["']?[ \t]*[:=][ \t]*["']?(?P<secret>[a-f0-9]{20})\b"#
    ),
    tok!(
        "ably",
        ["ably"],
        r"(?i)\bably[a-z0-9_.\-]{0,20}key[^A-Za-z0-9\n]{1,5}(?P<secret>[A-Za-z0-9_-]{6}\.[A-Za-z0-9_-]{6}:[A-Za-z0-9_-]{43})"
    ),
    // Messaging bots and webhooks
    tok!(
        "slack",
        [
            "xoxb-", "xoxp-", "xoxa-", "xoxr-", "xoxs-", "xoxo-", "xoxe-", "xoxe."
        ],
        r"\b(?:xox[abeoprs]-[A-Za-z0-9-]{10,}|xoxe\.xox[bp]-[0-9]-[A-Za-z0-9]{20,})"
    ),
    tok!("slack_app", ["xapp-"], r"\bxapp-[0-9]-[A-Za-z0-9-]{10,}"),
    tok!(
        "slack_webhook",
        ["hooks.slack.com"],
        r"(?:https?://)?hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9+/_-]{20,}"
    ),
    tok!(
        "discord_webhook",
        ["discord.com/api/webhooks", "discordapp.com/api/webhooks"],
        r"discord(?:app)?\.com/api/webhooks/[0-9]{17,20}/[A-Za-z0-9_-]{60,}"
    ),
    tok!(
        "discord_bot",
        ["discord", "DISCORD", "Discord"],
        r"\b[MNO][A-Za-z0-9_-]{23,25}\.[A-Za-z0-9_-]{6}\.[A-Za-z0-9_-]{27,38}\b"
    ),
    tok!(
        "discord_secret",
        ["discord"],
        r#"(?i)\bdiscord[a-z0-9_.\-]{0,20}(?:secret|key|token)["']?[ \t]*[:=][ \t]*["']?(?P<secret>[A-Za-z0-9=_-]{32,64})"#
    ),
    tok!(
        "teams_webhook",
        ["webhook.office.com", "logic.azure.com"],
        r"https://[a-z0-9.-]+\.(?:webhook\.office\.com/webhookb2/[a-z0-9-]+@[a-z0-9-]+/IncomingWebhook/[A-Za-z0-9]{32}/[a-z0-9-]{36}|logic\.azure\.com:443/workflows/[a-f0-9]{32}/triggers/manual/paths/invoke\?[^\s]*sig=[A-Za-z0-9_-]{43})"
    ),
    tok!(
        // Also glued to `bot` in the Bot API's URLs (`…/bot123456789:AA…/getUpdates`).
        "telegram_bot",
        [":A"],
        r"(?:\b|bot)(?P<secret>[0-9]{6,12}:A[A-Za-z0-9_-]{34})\b"
    ),
    tok!(
        "mattermost",
        ["mattermost"],
        r#"(?i)\bmattermost[a-z0-9_.\-]{0,20}(?:token|key)["']?[ \t]*[:=][ \t]*["']?(?P<secret>[a-z0-9]{26})\b"#
    ),
    tok!(
        "gitter",
        ["gitter"],
        r#"(?i)\bgitter[a-z0-9_.\-]{0,20}token["']?[ \t]*[:=][ \t]*["']?(?P<secret>[a-z0-9_-]{40})\b"#
    ),
    tok!(
        "line_messaging",
        ["line_channel"],
        r#"(?i)\bline_channel_(?:access_token|secret)["']?[ \t]*[:=][ \t]*["']?(?P<secret>[A-Za-z0-9+/=]{32,})"#
    ),
    tok!(
        "zulip",
        ["zulip"],
        r#"(?i)\bzulip[a-z0-9_.\-]{0,20}(?:key|token)["']?[ \t]*[:=][ \t]*["']?(?P<secret>[A-Za-z0-9]{32})\b"#
    ),
    tok!("facebook_token", ["EAA"], r"\bEAA[A-Z][A-Za-z0-9]{80,}"),
    tok!(
        "facebook_secret",
        ["facebook"],
        r#"(?i)\bfacebook[a-z0-9_.\-]{0,20}(?:secret|key|token)["']?[ \t]*[:=][ \t]*["']?(?P<secret>[a-f0-9]{32})\b"#
    ),
    tok!(
        "twitter_bearer",
        ["AAAAAAAAAAAAAAAAAAAA"],
        r"\bA{22}[A-Za-z0-9%]{80,}"
    ),
    tok!(
        "twitter_secret",
        ["twitter"],
        r#"(?i)\btwitter[a-z0-9_.\-]{0,20}(?:secret|key|token)["']?[ \t]*[:=][ \t]*["']?(?P<secret>[A-Za-z0-9]{25,50}|[0-9]{15,25}-[A-Za-z0-9]{20,40})\b"#
    ),
    tok!(
        "linkedin",
        ["linkedin", "linked_in", "linked-in"],
        r#"(?i)\blinked[_-]?in[a-z0-9_.\-]{0,20}(?:secret|key)["']?[ \t]*[:=][ \t]*["']?(?P<secret>[A-Za-z0-9]{16})\b"#
    ),
    tok!(
        "twitch",
        ["twitch"],
        r#"(?i)\btwitch[a-z0-9_.\-]{0,20}(?:token|secret|key)["']?[ \t]*[:=][ \t]*["']?(?P<secret>[a-z0-9]{30})\b"#
    ),
    tok!("dropbox", ["sl."], r"\bsl\.[A-Za-z0-9_-]{130,}"),
    tok!(
        "dropbox_long_lived",
        ["AAAAAAAAAA"],
        r"\b[A-Za-z0-9]{11}AAAAAAAAAA[A-Za-z0-9_=-]{43}"
    ),
    tok!(
        "zendesk",
        ["zendesk"],
        r#"(?i)\bzendesk[a-z0-9_.\-]{0,20}(?:token|secret|key)["']?[ \t]*[:=][ \t]*["']?(?P<secret>[A-Za-z0-9]{40})\b"#
    ),
    tok!(
        "intercom",
        ["intercom"],
        r#"(?i)\bintercom[a-z0-9_.\-]{0,20}(?:token|key)["']?[ \t]*[:=][ \t]*["']?(?P<secret>[A-Za-z0-9=_-]{59,60})"#
    ),
    tok!(
        "hubspot",
        ["pat-na1-", "pat-eu1-"],
        r"\bpat-(?:na|eu)1-[a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12}\b"
    ),
    tok!(
        "freshbooks",
        ["freshbooks"],
        r#"(?i)\bfreshbooks[a-z0-9_.\-]{0,20}(?:token|key)["']?[ \t]*[:=][ \t]*["']?(?P<secret>[a-z0-9]{64})\b"#
    ),
    tok!(
        "beamer",
        ["beamer"],
        r#"(?i)\bbeamer[a-z0-9_.\-]{0,20}(?:token|key)["']?[ \t]*[:=][ \t]*["']?(?P<secret>b_[a-z0-9=_-]{44})"#
    ),
    tok!("lob", ["_pub_"], r"\b(?:live|test)_pub_[a-f0-9]{31}\b"),
    tok!(
        "nytimes",
        ["nytimes", "newyork", "new_york", "new-york"],
        r#"(?i)\b(?:nytimes|new[_-]?york[_-]?times)[a-z0-9_.\-]{0,20}(?:key|token)["']?[ \t]*[:=][ \t]*["']?(?P<secret>[A-Za-z0-9=_-]{32})"#
    ),
    tok!(
        "etsy",
        ["etsy"],
        r#"(?i)\betsy[a-z0-9_.\-]{0,20}(?:token|key)["']?[ \t]*[:=][ \t]*["']?(?P<secret>[a-z0-9]{24})\b"#
    ),
    tok!(
        "flickr",
        ["flickr"],
        r#"(?i)\bflickr[a-z0-9_.\-]{0,20}(?:token|key)["']?[ \t]*[:=][ \t]*["']?(?P<secret>[a-z0-9]{32})\b"#
    ),
    tok!(
        "finnhub",
        ["finnhub"],
        r#"(?i)\bfinnhub[a-z0-9_.\-]{0,20}(?:token|key)["']?[ \t]*[:=][ \t]*["']?(?P<secret>[a-z0-9]{20})\b"#
    ),
    tok!(
        "finicity",
        ["finicity"],
        r#"(?i)\bfinicity[a-z0-9_.\-]{0,20}(?:token|secret|key)["']?[ \t]*[:=][ \t]*["']?(?P<secret>[a-z0-9]{20}|[a-f0-9]{32})\b"#
    ),
    tok!(
        "rapidapi",
        ["rapidapi"],
        r#"(?i)\brapidapi[a-z0-9_.\-]{0,20}(?:key|token)["']?[ \t]*[:=][ \t]*["']?(?P<secret>[A-Za-z0-9_-]{50})"#
    ),
    tok!(
        "sendbird",
        ["sendbird"],
        r#"(?i)\bsendbird[a-z0-9_.\-]{0,20}(?:token|key|id)["']?[ \t]*[:=][ \t]*["']?(?P<secret>[a-f0-9]{40}|[a-f0-9-]{36})\b"#
    ),
    tok!(
        "squarespace",
        ["squarespace"],
        r#"(?i)\bsquarespace[a-z0-9_.\-]{0,20}(?:token|key)["']?[ \t]*[:=][ \t]*["']?(?P<secret>[a-f0-9-]{36})\b"#
    ),
    tok!(
        "heroku",
        ["heroku"],
        r#"(?i)\bheroku[a-z0-9_.\-]{0,20}(?:key|token|secret)["']?[ \t]*[:=][ \t]*["']?(?P<secret>[a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12})\b"#
    ),
    tok!(
        "fastly",
        ["fastly"],
        r#"(?i)\bfastly[a-z0-9_.\-]{0,20}(?:token|key)["']?[ \t]*[:=][ \t]*["']?(?P<secret>[A-Za-z0-9=_-]{32})"#
    ),
    tok!(
        "cloudflare_api",
        ["cloudflare", "cf"],
        r#"(?i)\b(?:cloudflare|cf)[a-z0-9_.\-]{0,20}(?:token|key)["']?[ \t]*[:=][ \t]*["']?(?P<secret>[A-Za-z0-9_-]{40}|[a-f0-9]{37})\b"#
    ),
    tok!(
        "netlify_legacy",
        ["netlify"],
        r#"(?i)\bnetlify[a-z0-9_.\-]{0,20}(?:token|key)["']?[ \t]*[:=][ \t]*["']?(?P<secret>[A-Za-z0-9=_-]{40,46})"#
    ),
    tok!(
        "okta",
        ["okta"],
        r#"(?i)\bokta[a-z0-9_.\-]{0,20}(?:token|key|secret)["']?[ \t]*[:=][ \t]*["']?(?P<secret>00[A-Za-z0-9=_-]{40})"#
    ),
    tok!(
        "auth0",
        ["auth0"],
        r#"(?i)\bauth0[a-z0-9_.\-]{0,20}(?:secret|token)["']?[ \t]*[:=][ \t]*["']?(?P<secret>[A-Za-z0-9_-]{32,})"#
    ),
    tok!(
        "contentstack",
        ["contentstack"],
        r#"(?i)\bcontentstack[a-z0-9_.\-]{0,20}(?:token|key)["']?[ \t]*[:=][ \t]*["']?(?P<secret>cs[a-f0-9]{32})\b"#
    ),
    tok!(
        "bittrex",
        ["bittrex"],
        r#"(?i)\bbittrex[a-z0-9_.\-]{0,20}(?:key|secret)["']?[ \t]*[:=][ \t]*["']?(?P<secret>[a-z0-9]{32})\b"#
    ),
    tok!(
        "kraken",
        ["kraken"],
        r#"(?i)\bkraken[a-z0-9_.\-]{0,20}(?:key|secret)["']?[ \t]*[:=][ \t]*["']?(?P<secret>[A-Za-z0-9/=_+-]{80,90})"#
    ),
    tok!(
        "kucoin",
        ["kucoin"],
        r#"(?i)\bkucoin[a-z0-9_.\-]{0,20}(?:key|secret)["']?[ \t]*[:=][ \t]*["']?(?P<secret>[a-f0-9]{24}|[a-f0-9-]{36})\b"#
    ),
    tok!(
        "coinbase",
        ["coinbase"],
        r#"(?i)\bcoinbase[a-z0-9_.\-]{0,20}(?:token|key|secret)["']?[ \t]*[:=][ \t]*["']?(?P<secret>[A-Za-z0-9_-]{64})\b"#
    ),
    tok!("gocardless", ["live_"], r"\blive_[A-Za-z0-9_=-]{40}"),
    tok!(
        "confluent",
        ["confluent"],
        r#"(?i)\bconfluent[a-z0-9_.\-]{0,20}(?:secret|key)["']?[ \t]*[:=][ \t]*["']?(?P<secret>[A-Za-z0-9+/]{64}|[A-Z0-9]{16})\b"#
    ),
    tok!(
        "databricks",
        ["dapi", "dose"],
        r"\bd(?:api|ose)[a-f0-9]{32}(?:-\d)?\b"
    ),
    tok!(
        "snowflake",
        ["snowflake"],
        r#"(?i)\bsnowflake[a-z0-9_.\-]{0,20}(?:password|pwd|token)["']?[ \t]*[:=][ \t]*["']?(?P<secret>[^\s"',;]{8,})"#
    ),
    tok!(
        "mongodb_atlas",
        ["mongodb"],
        r#"(?i)\bmongodb[a-z0-9_.\-]{0,20}(?:private|secret)[_.\-]?key["']?[ \t]*[:=][ \t]*["']?(?P<secret>[a-f0-9-]{36})\b"#
    ),
    tok!(
        "firebase",
        ["AAAA"],
        r"\bAAAA[A-Za-z0-9_-]{7}:[A-Za-z0-9_-]{140}"
    ),
    tok!(
        "expo",
        ["ExponentPushToken["],
        r"ExponentPushToken\[[A-Za-z0-9_-]{22}\]"
    ),
    tok!(
        "shopify",
        ["shpat_", "shpca_", "shppa_", "shpss_"],
        r"\bshp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}\b"
    ),
    tok!(
        "maxmind",
        ["_mmk"],
        r"\b[A-Za-z0-9]{6}_[A-Za-z0-9]{29}_mmk\b"
    ),
    tok!(
        "freemius",
        ["sk_"],
        r#"(?i)"secret_key"[ \t]*=>[ \t]*["'](?P<secret>sk_[A-Za-z0-9_!?$@#<>;:^*~&%+=\[\]-]{29})["']"#
    ),
    tok!(
        "sidekiq",
        [
            "BUNDLE_ENTERPRISE__CONTRIBSYS__COM",
            "BUNDLE_GEMS__CONTRIBSYS__COM"
        ],
        // As Bundler names it (upper case): a run of token bytes with the name inside, so the
        // run's anchor check finds it. In a URL (`https://user:pass@gems.contribsys.com`) the
        // user-info rule takes it.
        r"BUNDLE_(?:ENTERPRISE|GEMS)__CONTRIBSYS__COM[ \t]*[:=][ \t]*[\x22']?(?P<secret>[a-f0-9]{8}:[a-f0-9]{8})"
    ),
    tok!(
        "jwt",
        ["eyJ"],
        r"\beyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]*"
    ),
    tok!("jwt_base64", ["ZXlK"], r"\bZXlK[A-Za-z0-9+/]{40,}={0,2}"),
    tok!(
        "onepassword",
        ["ops_eyJ", "A3-"],
        r"\b(?:ops_eyJ[A-Za-z0-9+/]{250,}={0,3}|A3-[A-Z0-9]{6}-(?:[A-Z0-9]{11}|[A-Z0-9]{6}-[A-Z0-9]{5})-[A-Z0-9]{5}-[A-Z0-9]{5}-[A-Z0-9]{5})"
    ),
    tok!(
        "bitwarden",
        ["bws"],
        r#"(?i)\bbws[a-z0-9_.\-]{0,20}(?:token|key)["']?[ \t]*[:=][ \t]*["']?(?P<secret>0\.[a-f0-9-]{36}\.[A-Za-z0-9]{30}:[A-Za-z0-9+/=]{24})"#
    ),
    tok!(
        "keycloak",
        ["keycloak"],
        r#"(?i)\bkeycloak[a-z0-9_.\-]{0,20}secret["']?[ \t]*[:=][ \t]*["']?(?P<secret>[A-Za-z0-9]{32})\b"#
    ),
    tok!(
        "plaid",
        ["-sandbox-", "-development-", "-production-"],
        r"\baccess-(?:sandbox|development|production)-[a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12}\b"
    ),
    tok!(
        "plaid_secret",
        ["plaid"],
        r#"(?i)\bplaid[a-z0-9_.\-]{0,20}(?:secret|key|client)[a-z_]{0,10}["']?[ \t]*[:=][ \t]*["']?(?P<secret>[a-f0-9]{24,30})\b"#
    ),
    // Payment providers
    tok!(
        "stripe",
        [
            "sk_live_", "sk_test_", "sk_prod_", "rk_live_", "rk_test_", "rk_prod_"
        ],
        r"\b[sr]k_(?:live|test|prod)_[A-Za-z0-9]{10,}"
    ),
    tok!("stripe_webhook", ["whsec_"], r"\bwhsec_[A-Za-z0-9]{32,}"),
    tok!(
        "square",
        ["sq0atp-", "sq0csp-", "EAAA"],
        r"\b(?:sq0atp-[A-Za-z0-9_-]{22}|sq0csp-[A-Za-z0-9_-]{43}|EAAA[A-Za-z0-9_+=-]{60})"
    ),
    tok!(
        "paypal_braintree",
        ["access_token$production$", "access_token$sandbox$"],
        r"access_token\$(?:production|sandbox)\$[a-z0-9]{16}\$[a-f0-9]{32}"
    ),
    tok!(
        "adyen",
        ["AQE"],
        r"\bAQE[A-Za-z0-9]{3}[A-Za-z0-9+/=_.-]{60,}"
    ),
    tok!(
        "razorpay",
        ["rzp_live_", "rzp_test_"],
        r"\brzp_(?:live|test)_[A-Za-z0-9]{14}\b"
    ),
    tok!(
        "flutterwave",
        ["FLWSECK", "FLWPUBK"],
        r"\bFLW(?:SECK|PUBK)(?:_TEST)?-[A-Za-z0-9]{32}-X\b|\bFLWSECK(?:_TEST)?[A-Za-z0-9]{12}\b"
    ),
    tok!(
        "paystack",
        ["sk_live_", "sk_test_"],
        r"\bsk_(?:live|test)_[a-f0-9]{40}\b"
    ),
    tok!(
        "mollie",
        ["mollie"],
        r#"(?i)\bmollie[a-z0-9_.\-]{0,20}key["']?[ \t]*[:=][ \t]*["']?(?P<secret>(?:live|test)_[A-Za-z0-9]{30})\b"#
    ),
    tok!(
        "coinbase_commerce",
        ["coinbase"],
        r#"(?i)\bcoinbase[a-z0-9_.\-]{0,20}commerce[a-z0-9_.\-]{0,10}key["']?[ \t]*[:=][ \t]*["']?(?P<secret>[a-f0-9-]{36})\b"#
    ),
    tok!(
        "checkout",
        ["sk_sbox_", "pk_sbox_"],
        r"\b[sp]k_sbox_[a-z0-9]{26}\b"
    ),
    tok!(
        "wise",
        ["wise"],
        r#"(?i)\b(?:wise|transferwise)[a-z0-9_.\-]{0,20}(?:token|key)["']?[ \t]*[:=][ \t]*["']?(?P<secret>[a-f0-9-]{36})\b"#
    ),
    // Database URLs and connection strings (user-info passwords are the `url_credentials` rule)
    tok!(
        "jdbc_password",
        ["jdbc:"],
        r"(?i)jdbc:[a-z0-9]+://[^\s]*[?&;]password=(?P<secret>[^\s&;]+)"
    ),
    tok!(
        "odbc_password",
        ["PWD=", "Pwd=", "pwd="],
        r"(?i)(?:^|[;\s])pwd=(?P<secret>[^;\s/~][^;\s]{3,})"
    ),
    tok!(
        "redis_auth",
        ["requirepass", "masterauth"],
        r"(?i)\b(?:requirepass|masterauth)[ \t]+(?P<secret>\S{6,})"
    ),
    tok!(
        "mysql_cli",
        [" -p", "\t-p"],
        r"\b(?:mysql(?:dump|admin)?|mariadb(?:-dump|-admin)?)\b[^\n]*?[ \t]-p(?P<secret>[^\s-][^\s]{5,})"
    ),
    tok!(
        "mysql_dsn",
        ["@tcp", "@unix"],
        r#"(?:^|[\s"'=(`])[A-Za-z0-9_.-]{1,64}:(?P<secret>[A-Za-z0-9!#$&()*+,.;<=>?\[\]^_{|}~-]{1,40})@(?:tcp|unix)\("#
    ),
    tok!(
        "htpasswd",
        ["$apr1$", "$2y$", "$2a$", "$2b$"],
        r"\b[a-z_][a-z0-9_.-]*:(?P<secret>\$(?:apr1|2[aby])\$[./A-Za-z0-9$]{20,})"
    ),
    tok!(
        "shadow_hash",
        ["$6$", "$5$", "$y$"],
        r#"(?:\b[a-z_][a-z0-9_.-]*:|(?:^|[\s"'=(,\[]))(?P<secret>\$(?:6|5|y)\$(?:rounds=[0-9]{1,9}\$)?[./A-Za-z0-9$+=]{20,})"#
    ),
    // Keyword-anchored service keys without a prefix of their own
    kw!("adafruit", ["adafruit"], r"[a-z0-9_-]{32}"),
    kw!("airtable", ["airtable"], r"[a-z0-9]{17}"),
    kw!("asana_client", ["asana"], r"[0-9]{16}"),
    kw!("beamer_key", ["beamer"], r"[a-z0-9=_-]{45}"),
    kw!("bitbucket_secret", ["bitbucket"], r"[a-z0-9=_-]{32,64}"),
    kw!("cisco_meraki", ["meraki"], r"[0-9a-f]{40}"),
    kw!("droneci", ["droneci"], r"[a-z0-9]{32}"),
    // Consul's, Nomad's and Serf's gossip key (`encrypt = "…"` in their HCL, `"encrypt":` in
    // JSON): 32 bytes in base64.
    kw!("gossip_key", ["encrypt"], r"[a-z0-9+/]{43}="),
    kw!("dropbox_key", ["dropbox"], r"[a-z0-9]{15,}"),
    kw!("etsy_key", ["etsy"], r"[a-z0-9]{24}"),
    kw!("gitter_key", ["gitter"], r"[a-z0-9_-]{40}"),
    kw!("jfrog_key", ["jfrog", "artifactory"], r"[a-z0-9]{64,73}"),
    kw!("launchdarkly_key", ["launchdarkly"], r"[a-z0-9=_-]{40}"),
    kw!("nasdaq", ["nasdaq"], r"[a-z0-9_-]{20}"),
    kw!("openweather", ["openweather", "owm_"], r"[a-f0-9]{32}"),
    kw!("rapid7", ["rapid7", "insightvm"], r"[a-f0-9-]{36}"),
    kw!("shodan", ["shodan"], r"[a-z0-9]{32}"),
    kw!("virustotal", ["virustotal", "vt_api"], r"[a-f0-9]{64}"),
    kw!("weights_and_biases", ["wandb"], r"[a-f0-9]{40}"),
    kw!("newsapi", ["newsapi"], r"[a-f0-9]{32}"),
    kw!("github_client_secret", ["github"], r"[a-f0-9]{40}"),
    kw!("gitlab_legacy", ["gitlab"], r"[a-z0-9_-]{20}"),
    kw!("travis_key", ["travis"], r"[a-z0-9]{22}"),
    kw!("circleci_legacy", ["circle"], r"[a-f0-9]{40}"),
    kw!("sentry_legacy", ["sentry"], r"[a-f0-9]{64}"),
    kw!("mapbox_key", ["mapbox"], r"[a-z0-9_.-]{40,}"),
    kw!("segment", ["segment"], r"[a-z0-9]{32}"),
    kw!("mixpanel", ["mixpanel"], r"[a-f0-9]{32}"),
    kw!("amplitude", ["amplitude"], r"[a-f0-9]{32}"),
    kw!("bugsnag", ["bugsnag"], r"[a-f0-9]{32}"),
    kw!("rollbar", ["rollbar"], r"[a-f0-9]{32}"),
    kw!("loggly", ["loggly"], r"[a-f0-9-]{36}"),
    kw!(
        "newrelic_legacy",
        ["newrelic", "new_relic"],
        r"[a-f0-9]{40}"
    ),
    kw!("elastic", ["elastic"], r"[a-z0-9=_-]{20,}"),
    kw!("algolia_admin", ["algolia"], r"[a-f0-9]{32}"),
    kw!(
        "pinecone",
        ["pinecone"],
        r"[a-f0-9-]{36}|pcsk_[a-z0-9_]{40,}"
    ),
    kw!("weaviate", ["weaviate"], r"[a-z0-9]{32,}"),
    kw!("mistral", ["mistral"], r"[a-z0-9]{32}"),
    kw!("together", ["together"], r"[a-f0-9]{64}"),
    kw!("gemini", ["gemini"], r"aiza[a-z0-9_-]{35}"),
    kw!(
        "azure_openai",
        ["azure_openai", "azureopenai"],
        r"[a-f0-9]{32}"
    ),
    kw!("azure_key", ["azure"], r"[a-z0-9+/=]{40,88}"),
    kw!("gcp_key", ["gcp_", "gcloud"], r"[a-z0-9_-]{32,}"),
    kw!("digitalocean_spaces", ["spaces_"], r"[a-z0-9+/=]{40,43}"),
    kw!("minio", ["minio"], r"[a-z0-9+/=]{8,40}"),
    kw!("mapquest", ["mapquest"], r"[a-z0-9]{32}"),
    kw!("yelp", ["yelp"], r"[a-z0-9_-]{100,}"),
    kw!("spotify", ["spotify"], r"[a-f0-9]{32}"),
    kw!("trello", ["trello"], r"[a-f0-9]{32,64}"),
    kw!("jira", ["jira", "confluence"], r"[a-z0-9]{24}"),
    kw!("zoom", ["zoom"], r"[a-z0-9_-]{22,}"),
    kw!("salesforce", ["salesforce", "sfdc"], r"[a-z0-9!.]{40,}"),
    kw!("auth0_client", ["auth0"], r"[a-z0-9_-]{32,}"),
    kw!("unsplash", ["unsplash"], r"[a-z0-9_-]{43}"),
    kw!("giphy", ["giphy"], r"[a-z0-9]{32}"),
    kw!("imgur", ["imgur"], r"[a-f0-9]{15,40}"),
    kw!("ngrok", ["ngrok"], r"[a-z0-9_]{40,}"),
    kw!("browserstack", ["browserstack"], r"[a-z0-9]{20}"),
    kw!("saucelabs", ["sauce"], r"[a-f0-9-]{36}"),
    kw!("percy", ["percy"], r"[a-f0-9]{64}"),
    kw!(
        "cypress",
        ["cypress_record", "CYPRESS_RECORD"],
        r"[a-f0-9-]{36}"
    ),
    kw!("chromatic", ["chromatic"], r"[a-z0-9]{12,}"),
    kw!("expo_key", ["expo"], r"[a-z0-9_-]{40}"),
    kw!("contentful_key", ["contentful"], r"[a-z0-9_-]{43}"),
    kw!("sanity", ["sanity"], r"sk[a-z0-9]{80,}"),
    kw!("storyblok", ["storyblok"], r"[a-z0-9]{22,}"),
    kw!("prismic", ["prismic"], r"[a-z0-9._-]{40,}"),
    kw!("strapi", ["strapi"], r"[a-f0-9]{100,}"),
    kw!("hasura", ["hasura"], r"[a-z0-9_-]{16,}"),
    kw!("fauna", ["fauna"], r"fn[a-z0-9_-]{38}"),
    kw!("upstash", ["upstash"], r"[a-z0-9=]{40,}"),
    kw!("turso", ["turso"], r"ey[a-z0-9_.-]{100,}"),
    kw!("mux", ["mux_"], r"[a-z0-9+/]{40,}"),
    kw!("cloudinary", ["cloudinary"], r"[a-z0-9_-]{27}"),
    kw!("uploadcare", ["uploadcare"], r"[a-f0-9]{20}"),
    kw!("imagekit", ["imagekit"], r"private_[a-z0-9+/=]{28}"),
    kw!(
        "stytch",
        ["stytch"],
        r"secret-(?:test|live)-[a-z0-9_=-]{36}"
    ),
    kw!("workos", ["workos"], r"sk_[a-z0-9]{40,}"),
    kw!(
        "lemonsqueezy",
        ["lemonsqueezy", "lemon_squeezy"],
        r"ey[a-z0-9_.-]{100,}"
    ),
    kw!("paddle", ["paddle"], r"[a-f0-9]{50}|pdl_[a-z0-9_]{40,}"),
    kw!("chargebee", ["chargebee"], r"(?:live|test)_[a-z0-9]{30,}"),
    kw!("recurly", ["recurly"], r"[a-f0-9]{32}"),
    kw!("braintree", ["braintree"], r"[a-f0-9]{32}"),
    kw!("klarna", ["klarna"], r"[a-z0-9_-]{30,}"),
    kw!("dwolla", ["dwolla"], r"[a-z0-9]{50}"),
];

/// The table, with each keyword row's regex assembled from its anchors and value shape.
pub(crate) fn families() -> Vec<Family> {
    ROWS.iter()
        .map(|&(name, anchors, re, keyword)| {
            let regex = if keyword {
                let names: Vec<String> = anchors.iter().map(|a| regex_syntax_escape(a)).collect();
                // The value ends where a word ends, or before a byte no word holds: one that
                // ends in `-`, `+` or `=` and is followed by a quote or a blank has no `\b`.
                format!(
                    r"(?i-u)\b(?:{}){KW_GAP}(?P<secret>(?:{re}))(?:\b|\W|$)",
                    names.join("|")
                )
            } else {
                re.to_string()
            };
            Family {
                name,
                anchors,
                regex,
            }
        })
        .collect()
}

fn regex_syntax_escape(s: &str) -> String {
    regex::escape(s)
}

#[cfg(test)]
mod tests;
