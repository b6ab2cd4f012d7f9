//! Token families: CI systems and package registries.

use super::super::Row;

pub(in crate::redact::families) const ROWS: &[Row] = &[
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
];
