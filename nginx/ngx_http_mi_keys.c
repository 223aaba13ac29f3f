
/*
 * ngx_http_mi_module: the keys, all at configuration time.  The directives
 * that name them (mi_access_key, mi_secret_key_file, mi_credentials_file),
 * the reading of a key file by the master into pages of its own that are
 * wiped and unmapped when the configuration goes, the registry of the keys
 * that signing locations use, and the "notice" naming each of them, with a
 * fingerprint of its secret, at start and at every reload.
 */

#include "ngx_http_mi_module.h"


#define NGX_HTTP_MI_SECRET_MAX     4096

/* Sets up key->state from the text of a key file; logs why it cannot. */
typedef ngx_int_t (*ngx_http_mi_key_parse_pt)(ngx_conf_t *cf,
    ngx_http_mi_key_t *key, u_char *text, size_t len, void *data);


typedef struct {
    ngx_str_t                   profile;
    ngx_str_t                   access_key;     /* read from the file */
} ngx_http_mi_credentials_t;


static ngx_int_t ngx_http_mi_profile_arg(ngx_conf_t *cf, ngx_str_t *arg,
    ngx_str_t *profile);
static char *ngx_http_mi_not_with_credentials(ngx_conf_t *cf,
    ngx_command_t *cmd, ngx_http_mi_loc_conf_t *mlcf);
static ngx_http_mi_key_t *ngx_http_mi_load_key(ngx_conf_t *cf,
    ngx_command_t *cmd, ngx_http_mi_key_parse_pt parse, void *data);
static mi_sign_key_t *ngx_http_mi_alloc_key_pages(ngx_conf_t *cf,
    ngx_str_t *directive);
static ngx_int_t ngx_http_mi_read_key_file(ngx_conf_t *cf,
    ngx_str_t *directive, ngx_http_mi_key_t *key,
    ngx_http_mi_key_parse_pt parse, void *data);
static ngx_int_t ngx_http_mi_not_regular(ngx_conf_t *cf,
    ngx_str_t *directive, ngx_http_mi_key_t *key);
static ngx_int_t ngx_http_mi_parse_secret(ngx_conf_t *cf,
    ngx_http_mi_key_t *key, u_char *text, size_t len, void *data);
static ngx_int_t ngx_http_mi_parse_credentials(ngx_conf_t *cf,
    ngx_http_mi_key_t *key, u_char *text, size_t len, void *data);
static void ngx_http_mi_wipe_key(void *data);
static ngx_int_t ngx_http_mi_read_env(ngx_conf_t *cf);
static void ngx_http_mi_wipe_env(void);
static char *ngx_http_mi_check_access_key(ngx_conf_t *cf, void *post,
    void *data);
static ngx_uint_t ngx_http_mi_str_eq(ngx_str_t *a, ngx_str_t *b);


ngx_conf_post_t  ngx_http_mi_access_key_post = {
    ngx_http_mi_check_access_key
};


/* Indexed by ngx_http_mi_source_e. */
ngx_str_t  ngx_http_mi_sources[] = {
    ngx_string("static"),
    ngx_string("file"),
    ngx_string("env"),
    ngx_string("server_role")
};


/*
 * "mi_access_key" and "mi_secret_key_file" are the two halves that
 * "mi_credentials_file" sets at once: a block holds one form or the other.
 */

char *
ngx_http_mi_access_key(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_mi_loc_conf_t *mlcf = conf;

    if (mlcf->credentials_file != NULL) {
        return ngx_http_mi_not_with_credentials(cf, cmd, mlcf);
    }

    return ngx_conf_set_str_slot(cf, cmd, conf);
}


char *
ngx_http_mi_secret_key_file(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_mi_loc_conf_t *mlcf = conf;

    ngx_http_mi_key_t  *key;

    if (mlcf->credentials_file != NULL) {
        return ngx_http_mi_not_with_credentials(cf, cmd, mlcf);
    }

    if (mlcf->key != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    key = ngx_http_mi_load_key(cf, cmd, ngx_http_mi_parse_secret, NULL);
    if (key == NULL) {
        return NGX_CONF_ERROR;
    }

    mlcf->key = key;

    return NGX_CONF_OK;
}


/*
 * mi_credentials_file PATH [profile=NAME]: the access key and the secret
 * from one file in the format of NCP's CLI, so that a rotation replaces
 * one file and a reload picks both up.
 */

char *
ngx_http_mi_credentials_file(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_mi_loc_conf_t *mlcf = conf;

    ngx_str_t                  *value;
    ngx_http_mi_key_t          *key;
    ngx_http_mi_credentials_t   cred;

    if (mlcf->credentials_file != NULL) {
        return "is duplicate";
    }

    if (mlcf->access_key.data != NULL || mlcf->key != NGX_CONF_UNSET_PTR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"mi_credentials_file\" cannot be combined with "
                           "\"%s\" in the same block",
                           mlcf->access_key.data ? "mi_access_key"
                                                 : "mi_secret_key_file");
        return NGX_CONF_ERROR;
    }

    value = cf->args->elts;

    ngx_str_set(&cred.profile, "DEFAULT");

    if (cf->args->nelts == 3
        && ngx_http_mi_profile_arg(cf, &value[2], &cred.profile) != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    key = ngx_http_mi_load_key(cf, cmd, ngx_http_mi_parse_credentials, &cred);
    if (key == NULL) {
        return NGX_CONF_ERROR;
    }

    key->source = NGX_HTTP_MI_SOURCE_FILE;
    mlcf->key = key;
    mlcf->access_key = cred.access_key;
    mlcf->credentials_file = cf->conf_file->file.name.data;
    mlcf->credentials_line = cf->conf_file->line;

    return NGX_CONF_OK;
}


/* "profile=NAME": what a "[NAME]" line can hold, and a message can quote. */

static ngx_int_t
ngx_http_mi_profile_arg(ngx_conf_t *cf, ngx_str_t *arg, ngx_str_t *profile)
{
    u_char  *p, *last;

    if (arg->len <= sizeof("profile=") - 1
        || ngx_strncmp(arg->data, "profile=", sizeof("profile=") - 1) != 0)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"mi_credentials_file\": invalid parameter "
                           "\"%V\", expected \"profile=NAME\"", arg);
        return NGX_ERROR;
    }

    profile->data = arg->data + sizeof("profile=") - 1;
    profile->len = arg->len - (sizeof("profile=") - 1);

    last = profile->data + profile->len;

    for (p = profile->data; p < last; p++) {
        if (*p <= 0x20 || *p >= 0x7f || *p == '[' || *p == ']') {
            break;
        }
    }

    if (p < last || profile->len > MI_CREDENTIALS_PROFILE_MAX) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"mi_credentials_file\": invalid profile name "
                           "\"%V\": at most %d characters of printable "
                           "ASCII, without spaces, \"[\" or \"]\"",
                           profile, MI_CREDENTIALS_PROFILE_MAX);
        return NGX_ERROR;
    }

    return NGX_OK;
}


static char *
ngx_http_mi_not_with_credentials(ngx_conf_t *cf, ngx_command_t *cmd,
    ngx_http_mi_loc_conf_t *mlcf)
{
    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "\"%V\" cannot be combined with "
                       "\"mi_credentials_file\" (%s:%ui) in the same block",
                       &cmd->name, mlcf->credentials_file,
                       mlcf->credentials_line);

    return NGX_CONF_ERROR;
}


/*
 * The key of a key file directive (its first argument), read here, by the
 * master, at start and at every reload: only the HMAC key states derived
 * from the secret are kept, on pages of their own that core dumps leave
 * out, and wiped when the cycle that read them goes.
 */

static ngx_http_mi_key_t *
ngx_http_mi_load_key(ngx_conf_t *cf, ngx_command_t *cmd,
    ngx_http_mi_key_parse_pt parse, void *data)
{
    ngx_str_t           *value;
    ngx_pool_cleanup_t  *cln;
    ngx_http_mi_key_t   *key;

    value = cf->args->elts;

    key = ngx_pcalloc(cf->pool, sizeof(ngx_http_mi_key_t));
    if (key == NULL) {
        return NULL;
    }

    key->file = value[1];

    if (ngx_conf_full_name(cf->cycle, &key->file, 0) != NGX_OK) {
        return NULL;
    }

    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        return NULL;
    }

    cln->handler = ngx_http_mi_wipe_key;
    cln->data = key;

    key->state = ngx_http_mi_alloc_key_pages(cf, &cmd->name);
    if (key->state == NULL) {
        return NULL;
    }

    if (ngx_http_mi_read_key_file(cf, &cmd->name, key, parse, data)
        != NGX_OK)
    {
        return NULL;
    }

    return key;
}


/*
 * Anonymous pages for one key's states: madvise(MADV_DONTDUMP) keeps them
 * out of core dumps of the master and of every worker forked from it.
 */

static mi_sign_key_t *
ngx_http_mi_alloc_key_pages(ngx_conf_t *cf, ngx_str_t *directive)
{
    void  *p;

    p = mmap(NULL, sizeof(mi_sign_key_t), PROT_READ|PROT_WRITE,
             MAP_PRIVATE|MAP_ANONYMOUS, -1, 0);

    if (p == MAP_FAILED) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           "\"%V\": mmap() failed", directive);
        return NULL;
    }

#if (NGX_LINUX && defined MADV_DONTDUMP)

    if (madvise(p, sizeof(mi_sign_key_t), MADV_DONTDUMP) == -1) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           "\"%V\": madvise(MADV_DONTDUMP) failed",
                           directive);
        (void) munmap(p, sizeof(mi_sign_key_t));
        return NULL;
    }

#endif

    return p;
}


/*
 * mi_credentials_env: the access key and the secret from the environment
 * variables of NCP's SDKs, for containers.  They are read once, when the
 * master first loads a configuration that names them, into key pages that
 * live as long as the master (a reload finds them there), and are then
 * wiped from the environment: the bytes of each "NAME=value" are zeroed
 * where they are, which every copy of the environment's array (environ,
 * nginx's own saved at start) points to, and the entries are removed from
 * environ.  Workers get only the variables the "env" directive names.
 */

static ngx_http_mi_key_t  *ngx_http_mi_env_key;
static ngx_str_t           ngx_http_mi_env_access_key;

static const char  *ngx_http_mi_env_names[] = {
    "NCLOUD_ACCESS_KEY_ID", "NCLOUD_ACCESS_KEY",
    "NCLOUD_SECRET_ACCESS_KEY", "NCLOUD_SECRET_KEY",
    NULL
};


char *
ngx_http_mi_credentials_env(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_mi_loc_conf_t *mlcf = conf;

    if (mlcf->credentials_file != NULL) {
        return "is duplicate";
    }

    if (mlcf->access_key.data != NULL || mlcf->key != NGX_CONF_UNSET_PTR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"mi_credentials_env\" cannot be combined with "
                           "\"%s\" in the same block",
                           mlcf->access_key.data ? "mi_access_key"
                                                 : "mi_secret_key_file");
        return NGX_CONF_ERROR;
    }

    if (ngx_http_mi_env_key == NULL
        && ngx_http_mi_read_env(cf) != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    mlcf->key = ngx_http_mi_env_key;
    mlcf->access_key = ngx_http_mi_env_access_key;
    mlcf->credentials_file = cf->conf_file->file.name.data;
    mlcf->credentials_line = cf->conf_file->line;

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_mi_read_env(ngx_conf_t *cf)
{
    u_char             *p, *ak, *sk;
    size_t              ak_len, sk_len;
    ngx_str_t           directive;
    const char         *ak_name, *sk_name;
    ngx_http_mi_key_t  *key;

    ngx_str_set(&directive, "mi_credentials_env");

    ak_name = "NCLOUD_ACCESS_KEY_ID";
    ak = (u_char *) getenv(ak_name);

    if (ak == NULL || *ak == '\0') {
        ak_name = "NCLOUD_ACCESS_KEY";
        ak = (u_char *) getenv(ak_name);
    }

    sk_name = "NCLOUD_SECRET_ACCESS_KEY";
    sk = (u_char *) getenv(sk_name);

    if (sk == NULL || *sk == '\0') {
        sk_name = "NCLOUD_SECRET_KEY";
        sk = (u_char *) getenv(sk_name);
    }

    if (ak == NULL || *ak == '\0') {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"mi_credentials_env\": NCLOUD_ACCESS_KEY_ID "
                           "is not set (nor NCLOUD_ACCESS_KEY)");
        return NGX_ERROR;
    }

    if (sk == NULL || *sk == '\0') {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"mi_credentials_env\": NCLOUD_SECRET_ACCESS_KEY "
                           "is not set (nor NCLOUD_SECRET_KEY)");
        return NGX_ERROR;
    }

    ak_len = ngx_strlen(ak);
    sk_len = ngx_strlen(sk);

    for (p = ak; p < ak + ak_len; p++) {
        if (*p <= 0x20 || *p >= 0x7f) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"mi_credentials_env\": %s has a character "
                               "that cannot be sent in a header, at "
                               "position %uz", ak_name, (size_t) (p - ak));
            return NGX_ERROR;
        }
    }

    if (sk_len > NGX_HTTP_MI_SECRET_MAX) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"mi_credentials_env\": %s is longer than %d "
                           "bytes", sk_name, NGX_HTTP_MI_SECRET_MAX);
        return NGX_ERROR;
    }

    /* the master's for its life: not of a cycle, so never of its pool */

    key = ngx_calloc(sizeof(ngx_http_mi_key_t), cf->log);
    ngx_http_mi_env_access_key.data = ngx_alloc(ak_len, cf->log);

    if (key == NULL || ngx_http_mi_env_access_key.data == NULL) {
        return NGX_ERROR;
    }

    key->state = ngx_http_mi_alloc_key_pages(cf, &directive);
    if (key->state == NULL) {
        return NGX_ERROR;
    }

    key->source = NGX_HTTP_MI_SOURCE_ENV;
    key->file.len = ngx_strlen(sk_name) + sizeof("env:") - 1;
    key->file.data = ngx_alloc(key->file.len, cf->log);
    if (key->file.data == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(key->file.data, "env:%s", sk_name);

    ngx_memcpy(ngx_http_mi_env_access_key.data, ak, ak_len);
    ngx_http_mi_env_access_key.len = ak_len;

    mi_sign_key_init(key->state, sk, sk_len);
    mi_key_fingerprint(sk, sk_len, key->fingerprint);
    key->loaded = ngx_time();

    ngx_http_mi_env_key = key;

    ngx_http_mi_wipe_env();

    return NGX_OK;
}


/* Zeroes each of the SDK's variables in place and takes it out of environ. */

static void
ngx_http_mi_wipe_env(void)
{
    char         **p, **q;
    size_t         len;
    const char   **name;

    for (name = ngx_http_mi_env_names; *name; name++) {
        len = ngx_strlen(*name);

        for (p = environ; *p; /* void */) {
            if (ngx_strncmp(*p, *name, len) != 0 || (*p)[len] != '=') {
                p++;
                continue;
            }

            ngx_explicit_memzero(*p, ngx_strlen(*p));

            for (q = p; *q; q++) {
                *q = *(q + 1);
            }
        }
    }
}


/*
 * Reads the key file into a buffer on the stack, has parse() set up the
 * key states from it, and wipes it.  Only a regular file is read, and
 * nothing here may block: a FIFO or a device named by mistake must fail
 * "nginx -t" or a reload at once, not hang the master.  stat() gives the
 * clear error; the file is then opened with O_NONBLOCK and checked again
 * on the descriptor, in case it was replaced in between.
 */

static ngx_int_t
ngx_http_mi_read_key_file(ngx_conf_t *cf, ngx_str_t *directive,
    ngx_http_mi_key_t *key, ngx_http_mi_key_parse_pt parse, void *data)
{
    ssize_t           n;
    ngx_fd_t          fd;
    ngx_int_t         rc;
    ngx_uint_t        mode;
    ngx_file_info_t   fi;
    u_char            buf[NGX_HTTP_MI_SECRET_MAX + 1];

    if (ngx_file_info(key->file.data, &fi) == NGX_FILE_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           "\"%V\": " ngx_file_info_n " \"%V\" failed",
                           directive, &key->file);
        return NGX_ERROR;
    }

    if (!ngx_is_file(&fi)) {
        return ngx_http_mi_not_regular(cf, directive, key);
    }

    fd = ngx_open_file(key->file.data, NGX_FILE_RDONLY|NGX_FILE_NONBLOCK,
                       NGX_FILE_OPEN, 0);

    if (fd == NGX_INVALID_FILE) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           "\"%V\": " ngx_open_file_n " \"%V\" failed",
                           directive, &key->file);
        return NGX_ERROR;
    }

    rc = NGX_ERROR;

    if (ngx_fd_info(fd, &fi) == NGX_FILE_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           "\"%V\": " ngx_fd_info_n " \"%V\" failed",
                           directive, &key->file);
        goto done;
    }

    if (!ngx_is_file(&fi)) {
        (void) ngx_http_mi_not_regular(cf, directive, key);
        goto done;
    }

    mode = ngx_file_access(&fi);

    if (mode & (S_IRWXG|S_IRWXO)) {
        ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                           "\"%V\": \"%V\" is accessible "
                           "by group or others (mode 0%ui%ui%ui), "
                           "use mode 0600", directive, &key->file,
                           (ngx_uint_t) (mode >> 6) & 7,
                           (ngx_uint_t) (mode >> 3) & 7,
                           (ngx_uint_t) mode & 7);
    }

    n = ngx_read_fd(fd, buf, sizeof(buf));

    if (n == -1) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           "\"%V\": " ngx_read_fd_n " \"%V\" failed",
                           directive, &key->file);
        goto done;
    }

    if (n > NGX_HTTP_MI_SECRET_MAX) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\": \"%V\" is larger than %d bytes",
                           directive, &key->file, NGX_HTTP_MI_SECRET_MAX);
        goto done;
    }

    rc = parse(cf, key, buf, (size_t) n, data);

done:

    ngx_explicit_memzero(buf, sizeof(buf));

    if (ngx_close_file(fd) == NGX_FILE_ERROR) {
        ngx_conf_log_error(NGX_LOG_ALERT, cf, ngx_errno,
                           ngx_close_file_n " \"%V\" failed", &key->file);
    }

    return rc;
}


static ngx_int_t
ngx_http_mi_not_regular(ngx_conf_t *cf, ngx_str_t *directive,
    ngx_http_mi_key_t *key)
{
    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "\"%V\": \"%V\" is not a regular file",
                       directive, &key->file);

    return NGX_ERROR;
}


/*
 * mi_secret_key_file: the whole file is the secret, but for the blanks and
 * line ends around it; quotes or a comment there are refused, as they
 * would be hashed with it (mi_credentials_secret).
 */

static ngx_int_t
ngx_http_mi_parse_secret(ngx_conf_t *cf, ngx_http_mi_key_t *key,
    u_char *text, size_t len, void *data)
{
    mi_credentials_t  cr;

    if (mi_credentials_secret(&cr, text, len) != MI_CREDENTIALS_OK) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"mi_secret_key_file\": \"%V\": %s",
                           &key->file, cr.message);
        return NGX_ERROR;
    }

    if (cr.secret_key_len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"mi_secret_key_file\": \"%V\" is empty",
                           &key->file);
        return NGX_ERROR;
    }

    mi_sign_key_init(key->state, cr.secret_key, cr.secret_key_len);
    mi_key_fingerprint(cr.secret_key, cr.secret_key_len, key->fingerprint);
    key->loaded = ngx_time();

    return NGX_OK;
}


/*
 * mi_credentials_file: one profile of an NCP CLI file.  The access key is
 * copied, as it is sent with every request; the secret only sets up the
 * key states, and stays in the caller's buffer, which is wiped.
 */

static ngx_int_t
ngx_http_mi_parse_credentials(ngx_conf_t *cf, ngx_http_mi_key_t *key,
    u_char *text, size_t len, void *data)
{
    ngx_http_mi_credentials_t  *cred = data;

    mi_credentials_t  cr;

    if (mi_credentials_parse(&cr, text, len, (char *) cred->profile.data,
                             cred->profile.len)
        != MI_CREDENTIALS_OK)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"mi_credentials_file\": \"%V\": %s",
                           &key->file, cr.message);
        return NGX_ERROR;
    }

    cred->access_key.len = cr.access_key_len;
    cred->access_key.data = ngx_pnalloc(cf->pool, cr.access_key_len);
    if (cred->access_key.data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(cred->access_key.data, cr.access_key, cr.access_key_len);

    mi_sign_key_init(key->state, cr.secret_key, cr.secret_key_len);
    mi_key_fingerprint(cr.secret_key, cr.secret_key_len, key->fingerprint);
    key->loaded = ngx_time();

    return NGX_OK;
}


static void
ngx_http_mi_wipe_key(void *data)
{
    ngx_http_mi_key_t  *key = data;

    if (key->state == NULL) {
        return;
    }

    mi_sign_key_wipe(key->state);

    (void) munmap(key->state, sizeof(mi_sign_key_t));

    key->state = NULL;
}



/* The key is sent as a header value, as it is: visible ASCII only. */

static char *
ngx_http_mi_check_access_key(ngx_conf_t *cf, void *post, void *data)
{
    ngx_str_t  *key = data;

    u_char  *p;

    if (key->len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"mi_access_key\" is empty");
        return NGX_CONF_ERROR;
    }

    for (p = key->data; p < key->data + key->len; p++) {
        if (*p <= 0x20 || *p >= 0x7f) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"mi_access_key\" has a character that "
                               "cannot be sent in a header, at position %uz",
                               (size_t) (p - key->data));
            return NGX_CONF_ERROR;
        }
    }

    return NGX_CONF_OK;
}


/*
 * Remembers, at configuration time, a key that a signing location uses;
 * each one is logged once per configuration by ngx_http_mi_log_keys().
 * Locations that name the same file in directives of their own read it
 * each, and use one key.
 */

ngx_int_t
ngx_http_mi_key_in_use(ngx_conf_t *cf, ngx_http_mi_loc_conf_t *mlcf)
{
    ngx_uint_t                i;
    ngx_http_mi_key_t        *key;
    ngx_http_mi_key_use_t    *use;
    ngx_http_mi_main_conf_t  *mmcf;

    mmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_mi_module);

    key = mlcf->key;
    use = mmcf->keys.elts;

    for (i = 0; i < mmcf->keys.nelts; i++) {
        if (ngx_memcmp(use[i].key->fingerprint, key->fingerprint,
                       MI_FINGERPRINT_LEN) == 0
            && ngx_http_mi_str_eq(&use[i].key->file, &key->file)
            && ngx_http_mi_str_eq(&use[i].access_key, &mlcf->access_key))
        {
            return NGX_OK;
        }
    }

    use = ngx_array_push(&mmcf->keys);
    if (use == NULL) {
        return NGX_ERROR;
    }

    use->access_key = mlcf->access_key;
    use->key = mlcf->key;

    return NGX_OK;
}


/*
 * The keys in use as one number: the sum of a CRC32 of each access key and
 * secret's fingerprint, once each, in any order.  The readiness rule's
 * evidence is about these keys (ngx_http_mi_metrics.c): a configuration
 * with other keys starts it afresh.
 */

uint32_t
ngx_http_mi_keys_id(ngx_http_mi_main_conf_t *mmcf)
{
    uint32_t                id, crc;
    ngx_uint_t              i, j;
    ngx_http_mi_key_use_t  *use;

    use = mmcf->keys.elts;
    id = 0;

    for (i = 0; i < mmcf->keys.nelts; i++) {

        for (j = 0; j < i; j++) {
            if (ngx_memcmp(use[j].key->fingerprint, use[i].key->fingerprint,
                           MI_FINGERPRINT_LEN) == 0
                && ngx_http_mi_str_eq(&use[j].access_key, &use[i].access_key))
            {
                break;
            }
        }

        if (j < i) {
            continue;
        }

        ngx_crc32_init(crc);
        ngx_crc32_update(&crc, use[i].access_key.data, use[i].access_key.len);
        ngx_crc32_update(&crc, use[i].key->fingerprint, MI_FINGERPRINT_LEN);
        ngx_crc32_final(crc);

        id += crc;
    }

    return id;
}


static ngx_uint_t
ngx_http_mi_str_eq(ngx_str_t *a, ngx_str_t *b)
{
    return a->len == b->len && ngx_memcmp(a->data, b->data, a->len) == 0;
}


/* By the master, for each configuration it loads: start and reload. */

void
ngx_http_mi_log_keys(ngx_cycle_t *cycle)
{
    ngx_uint_t                i;
    ngx_http_mi_key_use_t    *use;
    ngx_http_mi_main_conf_t  *mmcf;

    mmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_mi_module);

    if (mmcf == NULL) {
        return;
    }

    use = mmcf->keys.elts;

    for (i = 0; i < mmcf->keys.nelts; i++) {
        ngx_log_error(NGX_LOG_NOTICE, cycle->log, 0,
                      "mi: access key \"%V\", secret fingerprint %*s "
                      "(from \"%V\")", &use[i].access_key,
                      (size_t) MI_FINGERPRINT_LEN, use[i].key->fingerprint,
                      &use[i].key->file);
    }
}

