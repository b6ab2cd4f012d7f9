//! Token families: database URLs and connection strings, password hashes.

use super::super::Row;

pub(in crate::redact::families) const ROWS: &[Row] = &[
    // Database URLs and connection strings (user-info passwords are the `url_credentials` rule)
    tok!(
        "jdbc_password",
        ["jdbc:"],
        r"(?i)jdbc:[a-z0-9]+://[^\s]*[?&;]password=(?P<secret>[^\s&;]+)"
    ),
    tok!(
        "odbc_password",
        ["PWD=", "Pwd=", "pwd="],
        // (Not a string in code, `pwd="…"`, nor its call's `)`, `open(name, pwd=…)`: those
        // are the keyword's, which leaves the quotes and the call as they are.)
        r#"(?i)(?:^|[;\s])pwd=(?P<secret>[^;\s/~"'][^;\s]{2,}[^;\s)])"#
    ),
    // (Not a placeholder in angle brackets, redis.conf's `# masterauth <master-password>`.)
    tok!(
        "redis_auth",
        ["requirepass", "masterauth"],
        r"(?i)\b(?:requirepass|masterauth)[ \t]+(?P<secret>[^\s<]\S{5,})"
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
    // A password hash of crypt(3)'s SHA and yescrypt kinds, bcrypt's (`$2b$12$` and 53 bytes:
    // a users table's `password_hash`, a config's admin hash) and Argon2's
    // (`$argon2id$v=19$m=…,t=…,p=…$SALT$HASH`), as files and tables print them (LDAP's after
    // its `{CRYPT}` scheme too): crackable offline, so kept like the passwords they stand for.
    tok!(
        "shadow_hash",
        ["$6$", "$5$", "$y$", "$2a$", "$2b$", "$2y$", "$argon2"],
        r#"(?:\b[a-z_][a-z0-9_.-]*:|(?:^|[\s"'=(,\[}]))(?P<secret>\$(?:6|5|y)\$(?:rounds=[0-9]{1,9}\$)?[./A-Za-z0-9$+=]{20,}|\$2[aby]\$[0-9]{2}\$[./A-Za-z0-9]{53,}|\$argon2(?:id|i|d)\$v=[0-9]{1,3}\$m=[0-9]{1,9},t=[0-9]{1,9},p=[0-9]{1,4}\$[A-Za-z0-9+/]{8,}\$[A-Za-z0-9+/]{16,})"#
    ),
];
