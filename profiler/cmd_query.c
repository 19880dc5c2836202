// SPDX-License-Identifier: MIT
/*
 * xprof query: a fleet flamegraph from the store. The server sums samples
 * by stack over the time range and labels asked for (store/query.c); the
 * result is a report profile written by the same writers as xprof report.
 * With --base-from/--base-to/--base-where a second query gives BEFORE and
 * the outputs are differential (report/'s diff writers, as xprof diff).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/lib.h"
#include "profiler/profiler_int.h"
#include "store/store.h"

#define MAX_CONDS 64

static void query_usage(FILE *f)
{
	fprintf(f,
		"usage: xprof query --clickhouse URL [options] [-o OUT]...\n"
		"\n"
		"Sums the samples of a fleet store by stack in the server and writes the top\n"
		"stacks as folded stacks, a flamegraph, pprof or a top table (by extension:\n"
		".folded .svg .pb.gz .txt). Without -o and --top, writes xprof.folded.\n"
		"\n"
		"  --clickhouse URL       the store (http://HOST:8123[/?database=NAME])\n"
		"  --from TIME            first window start (default -1h)\n"
		"  --to TIME              end, exclusive (default now); TIME is now, -30m, -2h,\n"
		"                         -7d, seconds since the epoch or YYYY-MM-DD[THH:MM[:SS]]\n"
		"                         UTC\n"
		"  --where COND[,COND]    keep samples whose labels match, every COND and every\n"
		"                         --where: LABEL=VALUE or LABEL!=VALUE, * and ? glob;\n"
		"                         labels host, service, container, comm, build_id, pid\n"
		"  --group-by LABEL       one tower per value of LABEL (its root frame) instead\n"
		"                         of one per comm\n"
		"  --max-stacks N         stacks fetched, the most sampled first (default 10000)\n"
		"  -o, --output FILE      output file (repeatable)\n"
		"      --top N            print the N functions with most samples to stdout\n"
		"      --min-count N      drop folded/SVG stacks seen fewer than N times\n"
		"      --title TEXT       flamegraph title\n"
		"      --inverted         flamegraph as an icicle graph\n"
		"      --timeout SECONDS  per request (default 60)\n"
		"  -q, --quiet            no summary line\n"
		"\n"
		"Differential: with any of these, a second query over the store is BEFORE, the\n"
		"first AFTER, and the outputs are diffs as 'xprof diff' writes them (red grew,\n"
		"blue shrank; --top lists the functions that changed most):\n"
		"  --base-from TIME       BEFORE's --from (default: AFTER's)\n"
		"  --base-to TIME         BEFORE's --to (default: AFTER's)\n"
		"  --base-where COND      BEFORE's conditions, instead of AFTER's (repeatable)\n");
}

int cmd_query(int argc, char **argv)
{
	enum {
		O_CH = 256,
		O_FROM,
		O_TO,
		O_WHERE,
		O_GROUP,
		O_MAX,
		O_TIMEOUT,
		O_BFROM,
		O_BTO,
		O_BWHERE,
	};
	static const struct option lopts[] = {
	    {"clickhouse", required_argument, NULL, O_CH},
	    {"from", required_argument, NULL, O_FROM},
	    {"to", required_argument, NULL, O_TO},
	    {"where", required_argument, NULL, O_WHERE},
	    {"group-by", required_argument, NULL, O_GROUP},
	    {"max-stacks", required_argument, NULL, O_MAX},
	    OUT_LONG_OPTS,
	    {"timeout", required_argument, NULL, O_TIMEOUT},
	    {"base-from", required_argument, NULL, O_BFROM},
	    {"base-to", required_argument, NULL, O_BTO},
	    {"base-where", required_argument, NULL, O_BWHERE},
	    {"quiet", no_argument, NULL, 'q'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	const char *url = NULL, *from = "-1h", *to = "now", *why = NULL;
	const char *done[MAX_OUTPUTS], *bfrom = NULL, *bto = NULL;
	struct st_cond conds[MAX_CONDS], bconds[MAX_CONDS];
	unsigned nbconds = 0;
	bool base = false;
	struct st_query bq;
	struct st_query_stats bqs = {0};
	struct rep_profile *bprof = NULL;
	struct st_query q = {.group_by = -1};
	struct st_query_stats qs;
	struct out_args oa = {0};
	struct rep_profile *prof = NULL;
	struct st_conn *c = NULL;
	unsigned timeout = 0, ndone = 0;
	bool quiet = false, failed = false;
	struct timespec ts;
	uint64_t now;
	char *end;
	int opt, err, ret = 1;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "o:qh", lopts, NULL)) != -1) {
		err = out_args_parse(&oa, opt, optarg);
		if (err >= 0) {
			if (err)
				return err;
			continue;
		}
		switch (opt) {
		case O_CH:
			url = optarg;
			break;
		case O_FROM:
			from = optarg;
			break;
		case O_TO:
			to = optarg;
			break;
		case O_WHERE:
			if (st_where_parse(optarg, conds, MAX_CONDS, &q.nconds, &why)) {
				fprintf(stderr, "xprof: --where '%s': %s\n", optarg, why);
				return 2;
			}
			break;
		case O_GROUP:
			q.group_by = st_label_parse(optarg, strlen(optarg));
			if (q.group_by < 0) {
				fprintf(
				    stderr,
				    "xprof: --group-by '%s': use host, service, container, comm, "
				    "build_id or pid\n",
				    optarg);
				return 2;
			}
			break;
		case O_MAX:
			q.max_stacks = (unsigned)strtoul(optarg, &end, 10);
			if (*end || !q.max_stacks) {
				fprintf(stderr, "xprof: --max-stacks takes a positive number\n");
				return 2;
			}
			break;
		case O_TIMEOUT:
			timeout = (unsigned)strtoul(optarg, &end, 10);
			if (*end || !timeout) {
				fprintf(stderr,
					"xprof: --timeout takes a positive number of seconds\n");
				return 2;
			}
			break;
		case O_BFROM:
			bfrom = optarg;
			base = true;
			break;
		case O_BTO:
			bto = optarg;
			base = true;
			break;
		case O_BWHERE:
			if (st_where_parse(optarg, bconds, MAX_CONDS, &nbconds, &why)) {
				fprintf(stderr, "xprof: --base-where '%s': %s\n", optarg, why);
				return 2;
			}
			base = true;
			break;
		case 'q':
			quiet = true;
			break;
		case 'h':
			query_usage(stdout);
			return 0;
		default:
			query_usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "xprof: unexpected argument '%s'; see 'xprof query --help'\n",
			argv[optind]);
		return 2;
	}
	if (!url) {
		fprintf(stderr, "xprof: no store given: use --clickhouse http://HOST:8123\n");
		return 2;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	now = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	if (st_time_parse(from, now, &q.from_ns) || st_time_parse(to, now, &q.to_ns)) {
		fprintf(stderr,
			"xprof: bad time '%s': give now, -1h, seconds since the epoch or "
			"YYYY-MM-DDTHH:MM:SS (UTC)\n",
			st_time_parse(from, now, &q.from_ns) ? from : to);
		return 2;
	}
	/* --to now must include a window that started this very nanosecond. */
	if (!strcmp(to, "now"))
		q.to_ns++;
	if (q.from_ns >= q.to_ns) {
		fprintf(stderr, "xprof: --from '%s' is not before --to '%s'\n", from, to);
		return 2;
	}
	q.conds = conds;
	/* BEFORE: AFTER's query with what --base-* replaces. */
	bq = q;
	if (nbconds) {
		bq.conds = bconds;
		bq.nconds = nbconds;
	}
	if ((bfrom && st_time_parse(bfrom, now, &bq.from_ns)) ||
	    (bto && st_time_parse(bto, now, &bq.to_ns))) {
		fprintf(stderr,
			"xprof: bad time '%s': give now, -1h, seconds since the epoch or "
			"YYYY-MM-DDTHH:MM:SS (UTC)\n",
			bfrom && st_time_parse(bfrom, now, &bq.from_ns) ? bfrom : bto);
		return 2;
	}
	if (bto && !strcmp(bto, "now"))
		bq.to_ns++;
	if (base && bq.from_ns >= bq.to_ns) {
		fprintf(stderr, "xprof: BEFORE's --base-from is not before its --base-to\n");
		return 2;
	}
	err = out_args_check(&oa, base ? "diff.svg" : "xprof.folded", base);
	if (err)
		return err;
	c = st_conn_new(url, timeout);
	if (!c) {
		fprintf(stderr, "xprof: %s\n",
			errno == EINVAL ? "--clickhouse takes an http:// or https:// URL"
					: strerror(errno));
		return errno == EINVAL ? 2 : 1;
	}
	err = st_query_run(c, &q, &prof, &qs);
	if (!err && base)
		err = st_query_run(c, &bq, &bprof, &bqs);
	if (err) {
		fprintf(stderr, "xprof: %s\n", st_conn_error(c));
		goto out;
	}
	if (base && (!qs.total || !bqs.total)) {
		fprintf(stderr, "xprof: %s has no samples: nothing to compare\n",
			qs.total ? "BEFORE (--base-*)" : "AFTER");
		goto out;
	}
	for (unsigned i = 0; i < oa.nouts; i++) {
		err = base ? rep_write_diff(prof, bprof, &oa.ro, oa.outs[i])
			   : rep_output_write(prof, &oa.ro, oa.outs[i], &why);
		if (!err) {
			done[ndone++] = oa.outs[i];
			continue;
		}
		failed = true;
		fprintf(stderr, "xprof: cannot write '%s': %s\n", oa.outs[i],
			err == -EINVAL && why ? why : xl_strerror(err));
	}
	if (oa.top) {
		oa.ro.top = oa.top;
		err = base ? rep_write_diff_top(prof, bprof, &oa.ro, stdout)
			   : rep_write_top(prof, &oa.ro, stdout);
		if (err) {
			fprintf(stderr, "xprof: cannot write the top table: %s\n", strerror(-err));
			goto out;
		}
	}
	qs.missing_stacks += bqs.missing_stacks;
	if (qs.missing_stacks)
		fprintf(stderr,
			"xprof: %llu stacks have samples but no frames in the store (shown as "
			"[stack not in store]): their writer failed between the two inserts\n",
			(unsigned long long)qs.missing_stacks);
	if (!quiet) {
		fprintf(stderr, "xprof: %llu samples from %s", (unsigned long long)qs.total,
			st_conn_url(c));
		if (qs.shown < qs.total)
			fprintf(stderr, ", %llu in the top %llu stacks shown (raise --max-stacks)",
				(unsigned long long)qs.shown, (unsigned long long)qs.rows);
		if (base) {
			fprintf(stderr, ", %llu before (--base-*)", (unsigned long long)bqs.total);
			if (bqs.shown < bqs.total)
				fprintf(stderr, ", %llu in its top %llu stacks",
					(unsigned long long)bqs.shown,
					(unsigned long long)bqs.rows);
		}
		for (unsigned i = 0; i < ndone; i++)
			fprintf(stderr, "%s%s", i ? ", " : "; wrote ", done[i]);
		fputc('\n', stderr);
	}
	ret = failed;
out:
	rep_profile_free(bprof);
	rep_profile_free(prof);
	st_conn_free(c);
	return ret;
}
