/*
 * cmd_man_doc.c - `idnode man-doc GROUP` (not in the usage: the build's): the
 * manual page of a group of subcommands, idnode-GROUP(1), written from each
 * command's own `--help` so the page never drifts from the program. Every
 * command of the table in main.c is in exactly one group (or in the
 * hand-written idnode-serve(1)); a command in none stops the build here.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "server/settings.h"

#define MAX_GROUP_COMMANDS 16

static const struct man_group {
	const char *name; /* idnode-NAME(1); NULL commands: a hand-written page */
	const char *title;
	const char *intro;
	const char *commands[MAX_GROUP_COMMANDS];
} groups[] = {
    {"serve", NULL, NULL, {"serve"}},
    {"node",
     "set up and try out nodes",
     "These commands describe a node's site and run a whole hierarchy on loopback ports. "
     "The node itself is run by idnode serve (idnode-serve(1)).",
     {"siteinfo", "demo"}},
    {"data",
     "load, back up, check and copy the identifiers of a store",
     "These commands work on a store (an LMDB data directory or a PostgreSQL database) "
     "or copy identifiers off a running node.",
     {"load", "dump", "restore", "verify", "index", "export"}},
    {"resolve",
     "resolve identifiers and GS1 Digital Link URIs",
     "These commands ask a node for an identifier's values, or map GS1 Digital Link URIs "
     "to identifiers and back.",
     {"resolve", "gs1"}},
    {"admin",
     "create, change and delete identifiers on a running node",
     "These commands change identifiers, prefixes, templates and quotas on a running node; "
     "each authenticates as an administrator.",
     {"create", "add", "modify", "remove", "delete", "list", "home", "unhome", "template", "batch",
      "quota"}},
    {"keys",
     "make keys, certificates and signatures",
     "These commands make key pairs, issue HS_CERT certificates and sign an identifier's "
     "values into an HS_SIGNATURE.",
     {"keygen", "cert", "sign"}},
    {"secondary",
     "management accounts, the audit log and statistics",
     "These commands manage a secondary node's accounts and enterprise admission, read its "
     "audit log and print a node's statistics.",
     {"account", "audit", "stats"}},
};
#define N_GROUPS (sizeof(groups) / sizeof(groups[0]))

void cli_doc_date(char *date, size_t len)
{
	const char *epoch = getenv("SOURCE_DATE_EPOCH");
	time_t t = epoch ? (time_t)strtoll(epoch, NULL, 10) : time(NULL);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(date, len, "%Y-%m-%d", &tm);
}

/* The group holding command name, or NULL; *count says in how many it is. */
static const struct man_group *group_of(const char *name, int *count)
{
	const struct man_group *found = NULL;
	*count = 0;
	for (size_t g = 0; g < N_GROUPS; g++)
		for (int i = 0; i < MAX_GROUP_COMMANDS && groups[g].commands[i]; i++)
			if (!strcmp(groups[g].commands[i], name)) {
				found = &groups[g];
				(*count)++;
			}
	return found;
}

static const struct cli_command *command_named(const char *name)
{
	size_t n;
	const struct cli_command *c = cli_commands(&n);
	for (size_t i = 0; i < n; i++)
		if (!strcmp(c[i].name, name))
			return &c[i];
	return NULL;
}

/* Every command in exactly one group, every group's command a command: else 0. */
static int groups_complete(void)
{
	size_t n;
	const struct cli_command *c = cli_commands(&n);
	int ok = 1, count;
	for (size_t i = 0; i < n; i++)
		if (!group_of(c[i].name, &count) || count != 1) {
			fprintf(stderr,
			        "idnode man-doc: command '%s' is in %d manual page groups, not 1 "
			        "(the groups table of src/cli/cmd_man_doc.c)\n",
			        c[i].name, count);
			ok = 0;
		}
	for (size_t g = 0; g < N_GROUPS; g++)
		for (int i = 0; i < MAX_GROUP_COMMANDS && groups[g].commands[i]; i++)
			if (!command_named(groups[g].commands[i])) {
				fprintf(stderr,
				        "idnode man-doc: group '%s' names '%s', no command\n",
				        groups[g].name, groups[g].commands[i]);
				ok = 0;
			}
	return ok;
}

/* What `idnode NAME --help` prints, run in a child so its state stays there. */
static char *help_text(const struct cli_command *c)
{
	int fd[2];
	if (pipe(fd))
		return NULL;
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0) {
		close(fd[0]);
		close(fd[1]);
		return NULL;
	}
	if (pid == 0) {
		close(fd[0]);
		if (dup2(fd[1], STDOUT_FILENO) < 0)
			_exit(CLI_FAIL);
		char *argv[] = {(char *)c->name, "--help", NULL};
		int rc = c->fn(2, argv);
		_exit(fflush(stdout) ? CLI_FAIL : rc);
	}
	close(fd[1]);
	char *text = NULL, buf[4096];
	size_t len = 0;
	FILE *m = open_memstream(&text, &len);
	ssize_t r;
	while (m && (r = read(fd[0], buf, sizeof(buf))) > 0)
		fwrite(buf, 1, (size_t)r, m);
	close(fd[0]);
	if (m)
		fclose(m);
	int status;
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "idnode man-doc: 'idnode %s --help' failed\n", c->name);
		free(text);
		return NULL;
	}
	return text;
}

static size_t indent_of(const char *line)
{
	return strspn(line, " ");
}

/* An option line: indented 2 to 8 spaces, then -X or --NAME. */
static int is_option(const char *line)
{
	size_t in = indent_of(line);
	const char *p = line + in;
	return in >= 2 && in <= 8 && p[0] == '-' && (isalnum((unsigned char)p[1]) || p[1] == '-');
}

/* Where an option line's description starts: after two spaces, else after the option
 * names and the argument words (no lower-case letters, or choices a|b) that follow them. */
static const char *option_desc(const char *p)
{
	const char *two = strstr(p, "  ");
	if (two)
		return two;
	int more = 1; /* the first token, and one after a ',' */
	while (*p) {
		size_t w = strcspn(p, " ");
		int lower = 0;
		for (size_t i = 0; i < w; i++)
			lower |= islower((unsigned char)p[i]) != 0;
		if (!more && p[0] != '-' && lower && !memchr(p, '|', w))
			return p;
		more = w && p[w - 1] == ',';
		p += w;
		p += strspn(p, " ");
	}
	return p;
}

/* The usage block's lines: the first begins "usage: "; the others are indented 4 or
 * more and are no option lines. */
static int usage_line(const char *line, int first)
{
	if (first)
		return !strncmp(line, "usage: ", 7);
	return indent_of(line) >= 4 && !is_option(line);
}

/* The next line of *text (NUL-terminated in place), or NULL at the end. */
static char *next_line(char **text)
{
	if (!*text || !**text)
		return NULL;
	char *line = *text, *nl = strchr(line, '\n');
	if (nl) {
		*nl = '\0';
		*text = nl + 1;
	} else
		*text = line + strlen(line);
	return line;
}

/* SYNOPSIS lines from the help's usage block (a copy of text is cut up). */
static void synopsis(FILE *f, const char *name, const char *help)
{
	char *copy = strdup(help), *rest = copy, *line;
	int first = 1;
	while (copy && (line = next_line(&rest)) && usage_line(line, first)) {
		const char *s = first ? line + 7 : line + (indent_of(line) >= 7 ? 7 : 0);
		roff_text(f, s, strlen(s));
		fputc('\n', f);
		first = 0;
	}
	if (first) {
		fprintf(f, "idnode ");
		roff_text(f, name, strlen(name));
		fputc('\n', f);
	}
	free(copy);
}

enum kind { K_USAGE, K_BLANK, K_OPTION, K_CONT, K_TEXT };

/* What a line of a help is, the lines before it having set *st (zeroed at first). */
struct scan {
	int lines, after_usage, in_option;
	size_t opt;
};
static enum kind classify(struct scan *st, const char *line)
{
	int first = st->lines++ == 0;
	if (!st->after_usage && usage_line(line, first))
		return K_USAGE;
	st->after_usage = 1;
	size_t in = indent_of(line);
	if (!line[in])
		return K_BLANK;
	if (is_option(line)) {
		st->in_option = 1;
		st->opt = in;
		return K_OPTION;
	}
	if (st->in_option && in > st->opt)
		return K_CONT;
	st->in_option = 0;
	return K_TEXT;
}

/* The smallest indent of a run of text lines: line, then those of rest up to a blank
 * or an option line. */
static size_t run_indent(const char *line, const char *rest)
{
	size_t least = indent_of(line);
	while (*rest && rest[indent_of(rest)] != '\n' && rest[indent_of(rest)] &&
	       !is_option(rest)) {
		if (indent_of(rest) < least)
			least = indent_of(rest);
		const char *nl = strchr(rest, '\n');
		rest = nl ? nl + 1 : rest + strlen(rest);
	}
	return least;
}

enum mode { M_NONE, M_TEXT, M_NOFILL, M_OPTION };

/* Switches the output to mode m (closing a no-fill block, leaving an option list). */
static enum mode to_mode(FILE *f, enum mode cur, enum mode m)
{
	if (cur == m)
		return m;
	if (cur == M_NOFILL)
		fputs(".fi\n", f);
	if (m == M_NOFILL)
		fputs(cur == M_OPTION ? ".PP\n.nf\n" : ".nf\n", f);
	else if (m == M_TEXT && cur == M_OPTION)
		fputs(".PP\n", f);
	return m;
}

/* An option line as a .TP entry: the option in bold, its description under it. */
static void option(FILE *f, const char *p)
{
	const char *d = option_desc(p);
	size_t speclen = (size_t)(d - p);
	while (speclen && p[speclen - 1] == ' ')
		speclen--;
	fputs(".TP\n\\fB", f);
	roff_text(f, p, speclen);
	fputs("\\fR\n", f);
	d += strspn(d, " ");
	if (*d) {
		roff_text(f, d, strlen(d));
		fputc('\n', f);
	}
}

/* The help after its usage block: options as .TP entries, the rest as paragraphs
 * (lines indented more than the rest of their paragraph, or in columns, kept as
 * they are). */
static void body(FILE *f, const char *help)
{
	size_t base = 0;
	enum kind last = K_BLANK;
	char *copy = strdup(help), *rest = copy, *line;
	enum mode mode = M_NONE;
	struct scan st = {0};
	while (copy && (line = next_line(&rest))) {
		const char *p = line + indent_of(line), *s = p;
		enum kind k = classify(&st, line);
		if (k == K_TEXT && last != K_TEXT)
			base = run_indent(line, rest);
		last = k;
		switch (k) {
		case K_USAGE:
			continue;
		case K_BLANK:
			if (mode != M_OPTION) {
				mode = to_mode(f, mode, M_NONE);
				fputs(".PP\n", f);
			}
			continue;
		case K_OPTION:
			mode = to_mode(f, mode, M_OPTION);
			option(f, p);
			continue;
		case K_CONT:
			break;
		case K_TEXT:
			/* deeper than the text around, or in columns: as it is */
			mode =
			    to_mode(f, mode,
			            indent_of(line) > base || strstr(p, "   ") ? M_NOFILL : M_TEXT);
			s = mode == M_NOFILL ? line + base : p;
			break;
		}
		roff_text(f, s, strlen(s));
		fputc('\n', f);
	}
	to_mode(f, mode, M_NONE);
	free(copy);
}

/* The commands of g from index i that share one help text: how many. */
static int shared_run(const struct man_group *g, char *const *help, int i)
{
	int k = 1;
	while (i + k < MAX_GROUP_COMMANDS && g->commands[i + k] && !strcmp(help[i], help[i + k]))
		k++;
	return k;
}

static void upper(FILE *f, const char *s)
{
	for (; *s; s++)
		fputs(*s == '-' ? "\\-" : (char[]){(char)toupper((unsigned char)*s), 0}, f);
}

static void header(FILE *f, const struct man_group *g)
{
	char date[32];
	cli_doc_date(date, sizeof(date));
	fprintf(
	    f,
	    ".\\\" idnode-%s(1) - generated by `idnode man-doc %s` from each command's --help:\n",
	    g->name, g->name);
	fputs(".\\\" edit the help in src/cli, not this page.\n.TH IDNODE\\-", f);
	upper(f, g->name);
	fprintf(f, " 1 \"%s\" \"idnode %s\" \"User Commands\"\n.SH NAME\nidnode\\-%s \\- ", date,
	        IDN_VERSION, g->name);
	roff_text(f, g->title, strlen(g->title));
	fputs("\n.SH SYNOPSIS\n", f);
}

static void see_also(FILE *f, const struct man_group *g)
{
	fputs(".SH SEE ALSO\n.BR idnode (1),\n.BR idnode\\-serve (1),\n", f);
	for (size_t k = 0; k < N_GROUPS; k++)
		if (groups[k].title && &groups[k] != g)
			fprintf(f, ".BR idnode\\-%s (1),\n", groups[k].name);
	fputs(".BR idnode.conf (5)\n", f);
}

static int page(FILE *f, const struct man_group *g)
{
	char *help[MAX_GROUP_COMMANDS] = {0};
	int ok = 1;
	for (int i = 0; ok && i < MAX_GROUP_COMMANDS && g->commands[i]; i++)
		ok = (help[i] = help_text(command_named(g->commands[i]))) != NULL;
	if (ok) {
		header(f, g);
		fputs(".nf\n", f);
		for (int i = 0; i < MAX_GROUP_COMMANDS && g->commands[i];
		     i += shared_run(g, help, i))
			synopsis(f, g->commands[i], help[i]);
		fputs(".fi\n.SH DESCRIPTION\n", f);
		roff_text(f, g->intro, strlen(g->intro));
		fputc('\n', f);
		for (int i = 0; i < MAX_GROUP_COMMANDS && g->commands[i]; i++) {
			const struct cli_command *c = command_named(g->commands[i]);
			fprintf(f, ".TP\n.B idnode %s\n", c->name);
			roff_text(f, c->summary, strlen(c->summary));
			fputc('\n', f);
		}
		fputs(".SH COMMANDS\n", f);
		for (int i = 0, k; i < MAX_GROUP_COMMANDS && g->commands[i]; i += k) {
			k = shared_run(g, help, i);
			fputs(".SS ", f);
			for (int j = 0; j < k; j++)
				fprintf(f, "%s%s", j ? ", " : "", g->commands[i + j]);
			fputc('\n', f);
			body(f, help[i]);
		}
		see_also(f, g);
	}
	for (int i = 0; i < MAX_GROUP_COMMANDS; i++)
		free(help[i]);
	return ok;
}

int cmd_man_doc(int argc, char **argv)
{
	if (!groups_complete())
		return CLI_USAGE;
	for (size_t g = 0; argc == 2 && g < N_GROUPS; g++) {
		if (!groups[g].title || strcmp(argv[1], groups[g].name))
			continue;
		if (!page(stdout, &groups[g]))
			return CLI_FAIL;
		return fflush(stdout) ? CLI_FAIL : CLI_OK;
	}
	if (argc == 2 && !strcmp(argv[1], "groups")) {
		for (size_t g = 0; g < N_GROUPS; g++)
			if (groups[g].title)
				printf("%s\n", groups[g].name);
		return fflush(stdout) ? CLI_FAIL : CLI_OK;
	}
	fprintf(stderr, "usage: idnode man-doc GROUP|groups\n");
	return CLI_USAGE;
}
