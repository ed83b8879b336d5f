/*
 * gendata.c - writes N synthetic identifiers as JSON Lines for `idnode load`,
 * plus a query file (one handle per line, random order) for hdlblast and,
 * optionally, the list of prefixes to home and a DNS zone of the same answer
 * sizes for the Knot anchor.
 *
 *   gendata -n N [-P|--profile minimal|template|mixed] [-p PREFIX[,PREFIX...]]
 *           [-k K] [-s SEED] -o OUT.jsonl [-q QUERIES] [-Q NQUERIES]
 *           [-x MISS_PCT] [-H HOMES] [-T] [-Z ZONEDIR] [-z S] [--queries-only]
 *
 *   -P   the records' profile (default minimal):
 *        minimal   today's trace records: a URL, usually a contact EMAIL (ttl
 *                  3600) and a free-text DESC sized so that the resolution
 *                  answer is spread over 150-250 bytes
 *        template  a product registered under a data template, as industrial
 *                  registrations are: URL, EMAIL, HS_ADMIN (index 100),
 *                  TEMPLATE at 1001 naming the template, and 10-20 template
 *                  fields from index 2000 on, names and values in Chinese or
 *                  English; the Handle answer aims at a size drawn from
 *                  500-2000 bytes (10 fields need ~650 at least), and the
 *                  REST JSON answer is about 2.2 times that
 *        mixed     each record minimal or template, half and half
 *   -p   prefix, or a comma-separated list (default 88.100.1)
 *   -k   spread over K prefixes derived from the first one by counting its
 *        last numeric component up (88.100.1 -> 88.100.1 .. 88.100.K)
 *   -Q   number of queries (default min(N, 1000000)); handles are drawn at
 *        random, with replacement
 *   -x   percentage of queries for handles that do not exist (default 0)
 *   -z   queries Zipf-distributed with exponent S (e.g. 1) instead of
 *        uniform: the identifier of popularity rank r is (r - 1) * P mod N
 *        for a P prime to N, so the popular ones are spread over the key
 *        space (rejection-inversion sampling, Hoermann and Derflinger 1996)
 *   --queries-only  write only the query file (-q), not the records (-o is
 *        then not needed): the queries of a store made earlier with the same
 *        -n and -p/-k, without generating it again
 *   -T   add a "timestamp" to each value
 *   -Z   also write ZONEDIR/bench.test.zone and ZONEDIR/queries.txt: one TXT
 *        record per identifier whose DNS answer (with an EDNS OPT record)
 *        has the byte size of that identifier's Handle answer, and 1,000,000
 *        random queries (dnsperf format), so Knot is measured on answers of
 *        the profile's sizes
 *   -S   searchable fields (docs/search.md): a "batch" shared by 1,000
 *        records (LOT-<i / 1000>) and a "produced" date (2026, one day of
 *        the year by i % 365), at indexes 3000 and 3001 (after any template
 *        field)
 *
 * Identifiers look like an industrial-internet product trace record:
 * 88.100.1/MOTOR-2026-000042. Records are written in random order (a loader
 * must sort). The profile and the distribution of the answer sizes (Handle
 * answer bytes and REST JSON answer bytes: min, median, p90, max, mean) are
 * printed on stderr, and as PROFILE=, MEAN_ANSWER_BYTES=, JSON_MEDIAN_BYTES=
 * lines on stdout.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static uint64_t rng_state;

static uint64_t rnd(void)
{
	/* splitmix64 */
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint32_t rnd_below(uint32_t n)
{
	return (uint32_t)(((rnd() >> 32) * (uint64_t)n) >> 32);
}

static const char *const kinds[] = {"MOTOR", "PUMP", "VALVE", "GEAR", "SENSOR", "CABLE"};
static const char *const words[] = {"three-phase", "induction", "motor", "batch",   "line",
                                    "steel",       "housing",   "rated", "IP55",    "class",
                                    "F",           "flange",    "shaft", "bearing", "QA"};

enum profile { P_MINIMAL, P_TEMPLATE, P_MIXED };
static const char *const profile_names[] = {"minimal", "template", "mixed"};

enum { ENV = 20, HDR = 24, LINE_MAX_BYTES = 16384 };

/* Answer size of a resolution answer: envelope, header, str handle, int4
 * count, values (26 fixed bytes + type + data each), int4 credential length. */
static size_t answer_base(size_t hlen)
{
	return ENV + HDR + 4 + hlen + 4 + 4;
}

static size_t value_size(size_t tlen, size_t dlen)
{
	return 26 + tlen + dlen;
}

static size_t digits(uint32_t v)
{
	size_t n = 1;
	while (v >= 10) {
		v /= 10;
		n++;
	}
	return n;
}

/*
 * Bytes of GET /api/handles/{h}'s JSON (api_json.c): the envelope
 * {"responseCode":1,"handle":"H","values":[...]} with n values, and a value
 * {"index":I,"type":"T","data":D,"ttl":L,"timestamp":"YYYY-MM-DDTHH:MM:SSZ"}
 * whose data D is {"format":"string","value":"..."} (30 bytes + the text,
 * which gendata writes without characters JSON escapes).
 */
static size_t json_base(size_t hlen)
{
	return 41 + hlen; /* 42 with "]}", less one: n values have n - 1 commas */
}

static size_t json_value(uint32_t index, size_t tlen, uint32_t ttl, size_t dsize)
{
	return 70 + digits(index) + tlen + digits(ttl) + dsize + 1 /* the comma or ']' */;
}

static size_t json_str(size_t len)
{
	return 30 + len;
}

/* One generated record: its line, and the sizes of its two answers. */
typedef struct rec {
	char *p, *end;
	size_t wire, json;
	int with_ts;
} rec;

static void put(rec *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(rec *r, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(r->p, (size_t)(r->end - r->p), fmt, ap);
	va_end(ap);
	if (n > 0)
		r->p += n < r->end - r->p ? n : r->end - r->p - 1;
}

static const uint32_t ts_base = 1767225600u; /* 2026-01-01 */

/* Ends a value: the optional timestamp and the closing brace. */
static void value_end(rec *r)
{
	if (r->with_ts)
		put(r, ",\"timestamp\":%u", ts_base + rnd_below(86400 * 300));
	put(r, "}");
}

/* A string value of wire and JSON size accounted; sep is "" for the first value. */
static void str_value(rec *r, const char *sep, uint32_t index, const char *type, const char *data,
                      uint32_t ttl)
{
	size_t tl = strlen(type), dl = strlen(data);
	put(r, "%s{\"index\":%u,\"type\":\"%s\",\"data\":\"%s\"", sep, index, type, data);
	if (ttl != 86400)
		put(r, ",\"ttl\":%u", ttl);
	value_end(r);
	r->wire += value_size(tl, dl);
	r->json += json_value(index, tl, ttl, json_str(dl));
}

/* -S: a batch shared by 1,000 records and a production date in 2026. */
static void search_fields(rec *r, uint32_t i)
{
	static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int d = (int)(i % 365), m = 0;
	char batch[24], date[32];
	while (d >= mdays[m])
		d -= mdays[m++];
	snprintf(batch, sizeof batch, "LOT-%05u", i / 1000);
	snprintf(date, sizeof date, "2026-%02d-%02d", m + 1, d + 1);
	str_value(r, ",", 3000, "batch", batch, 86400);
	str_value(r, ",", 3001, "produced", date, 86400);
}

/* Today's record: URL, EMAIL when it fits, DESC filling up to 150-250 bytes. */
static void gen_minimal(rec *r, const char *handle, size_t hl)
{
	/* target answer size, uniform in 150..250 */
	size_t target = 150 + rnd_below(101);
	size_t size = answer_base(hl);
	/* plan: URL always, EMAIL when it fits, DESC filling up to the
	 * target; a gap too small for a DESC lengthens the URL instead */
	char url[320], email[64], desc[256];
	int ul = snprintf(url, sizeof url, "https://trace.example.cn/%s", handle);
	int el = snprintf(email, sizeof email, "qa%u@plant%02u.example.cn", rnd_below(100),
	                  rnd_below(100));
	size += value_size(3, (size_t)ul);
	int with_email = size + value_size(5, (size_t)el) <= target;
	if (with_email)
		size += value_size(5, (size_t)el);
	size_t gap = target > size ? target - size : 0, dl = 0;
	if (gap >= value_size(4, 8)) {
		dl = gap - value_size(4, 0);
	} else if (gap >= 6) { /* "?lot=" + digits */
		ul += snprintf(url + ul, sizeof url - (size_t)ul, "?lot=");
		for (size_t d = 5; d < gap && (size_t)ul < sizeof url - 1; d++)
			url[ul++] = (char)('0' + rnd_below(10));
		url[ul] = 0;
	}
	r->wire = answer_base(hl);
	r->json = json_base(hl);
	str_value(r, "", 1, "URL", url, 86400);
	if (with_email)
		str_value(r, ",", 2, "EMAIL", email, 3600);
	if (dl) {
		size_t dp = 0;
		while (dp < dl) {
			const char *w = words[rnd_below(sizeof words / sizeof *words)];
			size_t wl = strlen(w);
			if (dp && dp < dl)
				desc[dp++] = ' ';
			for (size_t c = 0; c < wl && dp < dl; c++)
				desc[dp++] = w[c];
		}
		desc[dp] = 0;
		str_value(r, ",", 3, "DESC", desc, 86400);
	}
}

/* ---- the template profile ---- */

/* A template field: its name in English and Chinese, and values of either language. */
typedef struct field {
	const char *en, *zh;
	const char *val_en[3], *val_zh[3];
} field;

static const field fields[] = {
    {"productName",
     "产品名称",
     {"three-phase induction motor", "centrifugal pump", "ball valve DN50"},
     {"三相异步电动机", "离心泵", "球阀 DN50"}},
    {"model",
     "型号",
     {"Y2-132M-4", "IS80-65-160", "Q41F-16C"},
     {"Y2-132M-4", "IS80-65-160", "Q41F-16C"}},
    {"manufacturer",
     "生产企业",
     {"Jiangsu Taizhou Motor Co., Ltd.", "Shanghai Pump Works", "Wenzhou Valve Group"},
     {"江苏泰州电机有限公司", "上海水泵厂", "温州阀门集团"}},
    {"productionDate",
     "生产日期",
     {"2026-03-15", "2026-05-02", "2026-07-21"},
     {"2026-03-15", "2026-05-02", "2026-07-21"}},
    {"batchNumber",
     "批次号",
     {"B2026-0315-07", "B2026-0502-11", "B2026-0721-03"},
     {"B2026-0315-07", "B2026-0502-11", "B2026-0721-03"}},
    {"ratedPower", "额定功率", {"7.5 kW", "15 kW", "2.2 kW"}, {"7.5千瓦", "15千瓦", "2.2千瓦"}},
    {"ratedVoltage", "额定电压", {"380 V", "220 V", "660 V"}, {"380伏", "220伏", "660伏"}},
    {"standard",
     "执行标准",
     {"GB/T 28575-2020", "GB/T 5657-2013", "GB/T 12237-2021"},
     {"GB/T 28575-2020", "GB/T 5657-2013", "GB/T 12237-2021"}},
    {"inspector", "检验员", {"Li Na", "Wang Wei", "Zhang Min"}, {"李娜", "王伟", "张敏"}},
    {"inspectionResult",
     "检验结果",
     {"passed", "passed with remarks", "passed"},
     {"合格", "合格(有备注)", "合格"}},
    {"origin",
     "产地",
     {"Taizhou, Jiangsu, China", "Shanghai, China", "Wenzhou, Zhejiang, China"},
     {"中国 江苏 泰州", "中国 上海", "中国 浙江 温州"}},
    {"material",
     "材质",
     {"cast iron", "stainless steel 304", "carbon steel"},
     {"铸铁", "不锈钢304", "碳钢"}},
    {"weight", "重量", {"65 kg", "120 kg", "8.5 kg"}, {"65千克", "120千克", "8.5千克"}},
    {"warrantyPeriod",
     "保修期",
     {"24 months", "12 months", "36 months"},
     {"24个月", "12个月", "36个月"}},
    {"certificate",
     "认证证书",
     {"CCC 2026010301234567", "CE 0123-2026", "ISO 9001:2015"},
     {"CCC认证 2026010301234567", "CE认证 0123-2026", "ISO 9001:2015"}},
    {"protectionClass", "防护等级", {"IP55", "IP54", "IP67"}, {"IP55", "IP54", "IP67"}},
    {"insulationClass", "绝缘等级", {"class F", "class B", "class H"}, {"F级", "B级", "H级"}},
    {"supplier",
     "供应商",
     {"Changzhou Bearing Co.", "Wuxi Steel Castings", "Ningbo Seals Ltd."},
     {"常州轴承有限公司", "无锡铸钢厂", "宁波密封件有限公司"}},
    {"serviceContact",
     "售后服务",
     {"service hotline 400-800-1234", "after-sales 400-820-5678", "support 400-610-9000"},
     {"服务热线 400-800-1234", "售后电话 400-820-5678", "技术支持 400-610-9000"}},
};
enum { NFIELDS = sizeof fields / sizeof fields[0] }; /* 19, and the remarks field: 20 */

static const char *const filler_en[] = {"inspected",  "before",  "shipment", "according", "to",
                                        "the",        "factory", "standard", "vibration", "noise",
                                        "insulation", "test",    "record",   "attached",  "OK"};
static const char *const filler_zh[] = {"出厂检验", "合格",     "符合", "国家标准", "振动",
                                        "噪声",     "绝缘电阻", "测试", "记录",     "附后",
                                        "按",       "工艺",     "要求"};

/* Text of about len bytes (never more) of words from one language. */
static size_t filler(char *out, size_t len, int zh)
{
	const char *const *w = zh ? filler_zh : filler_en;
	size_t nw =
	    zh ? sizeof filler_zh / sizeof *filler_zh : sizeof filler_en / sizeof *filler_en;
	size_t o = 0;
	for (int miss = 0; miss < 8;) {
		const char *x = w[rnd_below((uint32_t)nw)];
		size_t xl = strlen(x) + (o ? 1 : 0);
		if (o + xl > len) {
			miss++;
			continue;
		}
		if (o)
			out[o++] = ' ';
		memcpy(out + o, x, strlen(x));
		o += strlen(x);
	}
	out[o] = 0;
	return o;
}

/* URL, EMAIL, HS_ADMIN, TEMPLATE at 1001 and 10-20 fields from 2000 on. */
static void gen_template(rec *r, const char *handle, size_t hl, const char *pfx, const char *kind)
{
	size_t target = 500 + rnd_below(1501);
	int zh = rnd_below(2), nf = 10 + (int)rnd_below(11);
	char url[320], email[64], adm[96], tref[128], hex[256];
	snprintf(url, sizeof url, "https://trace.example.cn/%s", handle);
	snprintf(email, sizeof email, "qa%u@plant%02u.example.cn", rnd_below(100), rnd_below(100));
	snprintf(adm, sizeof adm, "0.NA/%s", pfx);
	snprintf(tref, sizeof tref, "%s/TPL-%s", pfx, kind);
	/* HS_ADMIN data: int2 rights, str handle, int4 index (300) */
	size_t al = strlen(adm), hp = (size_t)snprintf(hex, sizeof hex, "0ff2%08zx", al);
	for (size_t i = 0; i < al; i++)
		hp += (size_t)snprintf(hex + hp, sizeof hex - hp, "%02x", (uint8_t)adm[i]);
	snprintf(hex + hp, sizeof hex - hp, "%08x", 300u);

	r->wire = answer_base(hl);
	r->json = json_base(hl);
	str_value(r, "", 1, "URL", url, 86400);
	str_value(r, ",", 2, "EMAIL", email, 3600);
	put(r,
	    ",{\"index\":100,\"type\":\"HS_ADMIN\",\"data\":{\"format\":\"hex\",\"value\":\"%s\"}",
	    hex);
	value_end(r);
	r->wire += value_size(8, 10 + al);
	r->json += json_value(100, 8, 86400, 78 + al + 3);
	str_value(r, ",", 1001, "TEMPLATE", tref, 86400);

	/* the fields: nf - 1 from the table (a random run of it), then the remarks */
	const char *fv[NFIELDS];
	const char *fn[NFIELDS];
	size_t start = rnd_below(NFIELDS), fixed = 0;
	for (int f = 0; f < nf - 1; f++) {
		const field *x = &fields[(start + (size_t)f) % NFIELDS];
		int vz = rnd_below(4) ? zh : !zh; /* mostly the record's language */
		fn[f] = zh ? x->zh : x->en;
		fv[f] = vz ? x->val_zh[rnd_below(3)] : x->val_en[rnd_below(3)];
		fixed += value_size(strlen(fn[f]), strlen(fv[f]));
	}
	const char *rn = zh ? "备注" : "remarks";
	size_t have = r->wire + fixed + value_size(strlen(rn), 0);
	char remarks[2048];
	size_t room = target > have ? target - have : 0;
	if (room < 4)
		room = 4;
	filler(remarks, room < sizeof remarks - 1 ? room : sizeof remarks - 1, zh);
	for (int f = 0; f < nf - 1; f++)
		str_value(r, ",", 2000 + (uint32_t)f, fn[f], fv[f], 86400);
	str_value(r, ",", 2000 + (uint32_t)nf - 1, rn, remarks, 86400);
}

/* ---- Zipf-distributed ranks 1..n (rejection-inversion) ---- */
static double zipf_s;

static double zipf_helper1(double x) /* log1p(x) / x */
{
	return fabs(x) > 1e-8 ? log1p(x) / x : 1 - x * (0.5 - x * (1.0 / 3 - 0.25 * x));
}

static double zipf_helper2(double x) /* expm1(x) / x */
{
	return fabs(x) > 1e-8 ? expm1(x) / x : 1 + x * 0.5 * (1 + x / 3 * (1 + 0.25 * x));
}

static double zipf_h(double x)
{
	return exp(-zipf_s * log(x));
}

static double zipf_hint(double x)
{
	double lx = log(x);
	return zipf_helper2((1 - zipf_s) * lx) * lx;
}

static double zipf_hinv(double x)
{
	double t = x * (1 - zipf_s);
	if (t < -1)
		t = -1;
	return exp(zipf_helper1(t) * x);
}

static uint32_t zipf_rank(uint32_t n)
{
	double hx1 = zipf_hint(1.5) - 1, hn = zipf_hint((double)n + 0.5);
	double sv = 2 - zipf_hinv(zipf_hint(2.5) - zipf_h(2));
	for (int tries = 0; tries < 1000; tries++) {
		double u = hn + (double)(rnd() >> 11) / 9007199254740992.0 * (hx1 - hn);
		double x = zipf_hinv(u);
		double k = floor(x + 0.5);
		if (k < 1)
			k = 1;
		if (k > n)
			k = n;
		if (k - x <= sv || u >= zipf_hint(k + 0.5) - zipf_h(k))
			return (uint32_t)k;
	}
	return 1;
}

static uint64_t gcd(uint64_t a, uint64_t b)
{
	while (b) {
		uint64_t t = a % b;
		a = b;
		b = t;
	}
	return a;
}

/* The identifier of the next query: uniform, or by Zipf rank spread over 0..n-1. */
static uint32_t query_index(uint32_t n)
{
	static uint64_t step;
	if (zipf_s <= 0)
		return rnd_below(n);
	if (!step)
		for (step = 2654435761u % n; n > 1 && (step == 0 || gcd(step, n) != 1); step++)
			;
	return (uint32_t)((uint64_t)(zipf_rank(n) - 1) * step % n);
}

static void usage(void)
{
	fprintf(stderr,
	        "usage: gendata -n N -o OUT.jsonl [--profile minimal|template|mixed]\n"
	        "               [-p PREFIX[,..]] [-k K] [-s SEED] [-q QUERYFILE] [-Q NQUERIES]\n"
	        "               [-x MISS_PCT] [-H HOMESFILE] [-T] [-S] [-Z ZONEDIR] [-z S]\n"
	        "               [--queries-only]\n");
	exit(2);
}

/* Derives K prefixes from base by counting up its last dot-separated number. */
static char **derive_prefixes(const char *base, int k)
{
	char **out = calloc((size_t)k, sizeof *out);
	const char *dot = strrchr(base, '.');
	const char *last = dot ? dot + 1 : base;
	char *end;
	errno = 0;
	long first = strtol(last, &end, 10);
	int numeric = *last && !*end && !errno;
	for (int i = 0; i < k; i++) {
		out[i] = malloc(strlen(base) + 24);
		if (numeric)
			sprintf(out[i], "%.*s%ld", (int)(last - base), base, first + i);
		else
			sprintf(out[i], "%s.%d", base, i + 1);
	}
	return out;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

/* "min M median M p90 M max M mean M" of n sizes (sorted in place). */
static void dist(char *out, size_t cap, uint32_t *v, long n)
{
	uint64_t sum = 0;
	for (long i = 0; i < n; i++)
		sum += v[i];
	qsort(v, (size_t)n, sizeof *v, cmp_u32);
	snprintf(out, cap, "min %u median %u p90 %u max %u mean %.1f", v[0], v[n / 2],
	         v[(n * 9) / 10], v[n - 1], (double)sum / (double)n);
}

/*
 * The Knot anchor's zone: a TXT record per identifier whose DNS answer is as
 * long as the identifier's Handle answer: 12 header + question (r%08u.bench.test,
 * 22 + 4) + answer (2 name pointer + 10 + rdata) + OPT (11) = 61 + rdata.
 */
static int write_zone(const char *dir, const uint32_t *wire, long n)
{
	char fn[4096];
	mkdir(dir, 0755);
	snprintf(fn, sizeof fn, "%s/bench.test.zone", dir);
	FILE *z = fopen(fn, "w");
	if (!z) {
		perror(fn);
		return 1;
	}
	fprintf(z, "$ORIGIN bench.test.\n$TTL 3600\n@ IN SOA ns1 hostmaster 1 3600 900 604800 "
	           "300\n@ IN NS ns1\nns1 IN A 127.0.0.1\n");
	for (long i = 0; i < n; i++) {
		long rd = (long)wire[i] - 61;
		if (rd < 2)
			rd = 2;
		fprintf(z, "r%08ld IN TXT", i);
		while (rd > 1) {
			long sl = rd - 1 > 255 ? 255 : rd - 1;
			fputs(" \"", z);
			for (long c = 0; c < sl; c++)
				fputc("abcdefghijklmnopqrstuvwxyz0123456789=;"[(i + c) % 38], z);
			fputc('"', z);
			rd -= sl + 1;
		}
		fputc('\n', z);
	}
	if (fclose(z)) {
		perror(fn);
		return 1;
	}
	snprintf(fn, sizeof fn, "%s/queries.txt", dir);
	FILE *q = fopen(fn, "w");
	if (!q) {
		perror(fn);
		return 1;
	}
	for (long j = 0; j < 1000000; j++)
		fprintf(q, "r%08u.bench.test. TXT\n", rnd_below((uint32_t)n));
	return fclose(q) ? (perror(fn), 1) : 0;
}

/* The query file: nq handles (default min(n, 1,000,000)), uniform or Zipf (-z). */
static int write_queries(const char *q_fn, long n, long nq, char **prefixes, int np,
                         double miss_pct)
{
	static char qbuf[1 << 20];
	if (nq < 0)
		nq = n < 1000000 ? n : 1000000;
	FILE *q = fopen(q_fn, "w");
	if (!q) {
		perror(q_fn);
		return 1;
	}
	setvbuf(q, qbuf, _IOFBF, sizeof qbuf);
	for (long j = 0; j < nq; j++) {
		uint32_t i = query_index((uint32_t)n);
		const char *pfx = prefixes[i % (uint32_t)np];
		if (miss_pct > 0 && rnd_below(1000000) < (uint32_t)(miss_pct * 10000))
			fprintf(q, "%s/NOSUCH-2026-%06u\n", pfx, i);
		else
			fprintf(q, "%s/%s-2026-%06u\n", pfx,
			        kinds[i % (sizeof kinds / sizeof *kinds)], i);
	}
	if (fclose(q)) {
		perror(q_fn);
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	long n = 0, nq = -1;
	const char *prefix_arg = "88.100.1", *out_fn = NULL, *q_fn = NULL, *homes_fn = NULL;
	const char *zone_dir = NULL;
	int k = 1, with_ts = 0, profile = P_MINIMAL;
	double miss_pct = 0;
	int with_fields = 0, queries_only = 0;
	uint64_t seed = 42;
	int o;
	static const struct option longopts[] = {{"profile", required_argument, NULL, 'P'},
	                                         {"queries-only", no_argument, NULL, 'O'},
	                                         {NULL, 0, NULL, 0}};
	while ((o = getopt_long(argc, argv, "n:p:k:s:o:q:Q:x:H:TSP:Z:z:", longopts, NULL)) != -1) {
		switch (o) {
		case 'n':
			n = atol(optarg);
			break;
		case 'p':
			prefix_arg = optarg;
			break;
		case 'k':
			k = atoi(optarg);
			break;
		case 's':
			seed = strtoull(optarg, NULL, 0);
			break;
		case 'o':
			out_fn = optarg;
			break;
		case 'q':
			q_fn = optarg;
			break;
		case 'Q':
			nq = atol(optarg);
			break;
		case 'x':
			miss_pct = atof(optarg);
			break;
		case 'H':
			homes_fn = optarg;
			break;
		case 'T':
			with_ts = 1;
			break;
		case 'S':
			with_fields = 1;
			break;
		case 'Z':
			zone_dir = optarg;
			break;
		case 'z':
			zipf_s = atof(optarg);
			if (!(zipf_s > 0 && zipf_s <= 10)) {
				fprintf(stderr, "gendata: -z %s: an exponent in (0, 10]\n", optarg);
				return 2;
			}
			break;
		case 'O':
			queries_only = 1;
			break;
		case 'P':
			for (profile = 0; profile < 3 && strcmp(optarg, profile_names[profile]);
			     profile++)
				;
			if (profile == 3) {
				fprintf(stderr,
				        "gendata: --profile %s: not minimal, template or mixed\n",
				        optarg);
				return 2;
			}
			break;
		default:
			usage();
		}
	}
	if (n <= 0 || n > 100000000 || (!out_fn && !queries_only) || k < 1 || k > 100000 ||
	    (queries_only && (!q_fn || zone_dir)))
		usage();
	rng_state = seed;

	/* prefixes */
	char **prefixes;
	int np;
	if (strchr(prefix_arg, ',')) {
		char *copy = strdup(prefix_arg), *save = NULL;
		np = 0;
		prefixes = calloc(strlen(prefix_arg) + 1, sizeof *prefixes);
		for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save))
			prefixes[np++] = t;
	} else {
		np = k;
		prefixes = derive_prefixes(prefix_arg, k);
	}
	if (np < 1)
		usage();

	if (queries_only)
		return write_queries(q_fn, n, nq, prefixes, np, miss_pct);

	/* record i gets prefix i % np and suffix KIND-2026-<i>; written in random order */
	uint32_t *perm = malloc((size_t)n * sizeof *perm);
	uint32_t *wire = malloc((size_t)n * sizeof *wire), *json = malloc((size_t)n * sizeof *json);
	if (!perm || !wire || !json) {
		perror("malloc");
		return 1;
	}
	for (long i = 0; i < n; i++)
		perm[i] = (uint32_t)i;
	for (long i = n - 1; i > 0; i--) {
		uint32_t j = rnd_below((uint32_t)i + 1), t = perm[i];
		perm[i] = perm[j];
		perm[j] = t;
	}

	FILE *f = fopen(out_fn, "w");
	if (!f) {
		perror(out_fn);
		return 1;
	}
	static char fbuf[1 << 20];
	setvbuf(f, fbuf, _IOFBF, sizeof fbuf);

	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	char handle[256];
	static char line[LINE_MAX_BYTES];
	for (long r = 0; r < n; r++) {
		uint32_t i = perm[r];
		const char *pfx = prefixes[i % (uint32_t)np];
		const char *kind = kinds[i % (sizeof kinds / sizeof *kinds)];
		int hl = snprintf(handle, sizeof handle, "%s/%s-2026-%06u", pfx, kind, i);
		rec rc = {.p = line, .end = line + sizeof line, .with_ts = with_ts};
		put(&rc, "{\"handle\":\"%s\",\"values\":[", handle);
		if (profile == P_TEMPLATE || (profile == P_MIXED && rnd_below(2)))
			gen_template(&rc, handle, (size_t)hl, pfx, kind);
		else
			gen_minimal(&rc, handle, (size_t)hl);
		if (with_fields)
			search_fields(&rc, i);
		put(&rc, "]}\n");
		fwrite(line, 1, (size_t)(rc.p - line), f);
		wire[i] = (uint32_t)rc.wire;
		json[i] = (uint32_t)rc.json;
	}
	if (fclose(f)) {
		perror(out_fn);
		return 1;
	}

	if (q_fn && write_queries(q_fn, n, nq, prefixes, np, miss_pct))
		return 1;
	if (homes_fn) {
		FILE *h = fopen(homes_fn, "w");
		if (!h) {
			perror(homes_fn);
			return 1;
		}
		for (int j = 0; j < np; j++)
			fprintf(h, "%s\n", prefixes[j]);
		fclose(h);
	}
	if (zone_dir && write_zone(zone_dir, wire, n))
		return 1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double el = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	uint64_t wsum = 0;
	for (long i = 0; i < n; i++)
		wsum += wire[i];
	char wd[160], jd[160];
	dist(wd, sizeof wd, wire, n);
	dist(jd, sizeof jd, json, n);
	fprintf(stderr,
	        "gendata: %ld identifiers, profile %s, over %d prefix(es) in %.2f s\n"
	        "gendata: Handle answer bytes: %s\n"
	        "gendata: JSON answer bytes:   %s\n",
	        n, profile_names[profile], np, el, wd, jd);
	printf("PROFILE=%s\nMEAN_ANSWER_BYTES=%.1f\nJSON_MEDIAN_BYTES=%u\n", profile_names[profile],
	       (double)wsum / (double)n, json[n / 2]);
	return 0;
}
