//! Token families: cloud providers, and clusters' join tokens.

use super::super::Row;

pub(in crate::redact::families) const ROWS: &[Row] = &[
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
    // `kubeadm token list`'s rows: the token first, its group (`system:bootstrappers:kubeadm:…`)
    // at the row's end.
    tok!(
        "kubernetes_token_listed",
        ["kubeadm"],
        r"\b(?P<secret>[a-z0-9]{6}\.[a-z0-9]{16})\b[^\n]*?\bsystem:bootstrappers:kubeadm\b"
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
    // A TLS key log's line (`SSLKEYLOGFILE`, NSS's format): a label, the connection's client
    // random (no secret) and the secret that decrypts the connection.
    tok!(
        "tls_key_log",
        ["CLIENT_RANDOM", "_TRAFFIC_SECRET", "EXPORTER_SECRET"],
        r"\b(?:CLIENT_RANDOM|(?:CLIENT|SERVER)_(?:EARLY|HANDSHAKE)_TRAFFIC_SECRET|(?:CLIENT|SERVER)_TRAFFIC_SECRET_[0-9]+|(?:EARLY_)?EXPORTER_SECRET) [0-9a-fA-F]{64} (?P<secret>[0-9a-fA-F]{32,128})\b"
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
];
