//! Token families: messaging bots and webhooks.

use super::super::Row;

pub(in crate::redact::families) const ROWS: &[Row] = &[
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
];
