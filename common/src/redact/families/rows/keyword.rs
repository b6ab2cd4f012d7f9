//! Token families: keyword-anchored service keys without a prefix of their own.

use super::super::Row;

pub(in crate::redact::families) const ROWS: &[Row] = &[
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
    kw!(
        "gossip_key",
        ["encrypt", "consul_encrypt"],
        r"[a-z0-9+/]{43}="
    ),
    // A Fernet key (Python's `cryptography`; Django's and Airflow's settings): 32 bytes in
    // URL-safe base64.
    kw!("fernet_key", ["fernet", "fernet key"], r"[a-z0-9_-]{43}="),
    // A cipher's or a signature's key under its kind's label in two words (`AES key=…`,
    // `Encryption key: …`), as scripts print a key they make: 16, 32 or 64 bytes in padded
    // base64, or 16 bytes or more in hex. (A public key's label is none of these.)
    kw!(
        "labelled_key",
        [
            "aes key",
            "master key",
            "encryption key",
            "decryption key",
            "signing key",
            "hmac key",
            "session key",
            "shared key",
            "symmetric key",
            "wrapping key"
        ],
        r"[a-z0-9+/]{22}==|[a-z0-9+/]{43}=|[a-z0-9+/]{86}==|[a-f0-9]{32,}"
    ),
    // A licence's, a product's or a recovery key in groups of letters and digits (`License
    // key: Q7K2M-9XW4P-…`, BitLocker's eight groups of six digits).
    kw!(
        "grouped_key",
        [
            "license key",
            "licence key",
            "product key",
            "activation key",
            "registration key",
            "recovery key"
        ],
        r"[a-z0-9]{4,8}(?:-[a-z0-9]{4,8}){2,7}"
    ),
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
