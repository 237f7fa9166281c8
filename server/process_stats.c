/* process_* metrics from /proc/self (CPU time, memory, open descriptors) and /proc/stat (boot
 * time, to turn the start tick count into epoch seconds). */
#include "process_stats.h"

#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

static double boot_time(void)
{
    FILE *f = fopen("/proc/stat", "r");
    if (!f) return -1;
    char line[256];
    double btime = -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "btime %lf", &btime) == 1) break;
    fclose(f);
    return btime;
}

void srv_process_stats_read(srv_process_stats *s)
{
    s->cpu_seconds = s->resident_bytes = s->virtual_bytes = -1;
    s->start_time_seconds = s->open_fds = s->max_fds = -1;
    double ticks = (double)sysconf(_SC_CLK_TCK);
    double page = (double)sysconf(_SC_PAGESIZE);

    FILE *f = fopen("/proc/self/stat", "r");
    if (f) {
        char buf[1024];
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[n] = '\0';
        /* The command name may hold spaces and parentheses: fields start after the last ')'. */
        char *p = strrchr(buf, ')');
        unsigned long utime, stime, vsize;
        unsigned long long start;
        long rss;
        if (p && sscanf(p + 2,
                        "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu %*d %*d %*d %*d "
                        "%*d %*d %llu %lu %ld",
                        &utime, &stime, &start, &vsize, &rss) == 5) {
            s->cpu_seconds = (double)(utime + stime) / ticks;
            s->virtual_bytes = (double)vsize;
            s->resident_bytes = (double)rss * page;
            double bt = boot_time();
            if (bt >= 0) s->start_time_seconds = bt + (double)start / ticks;
        }
    }

    DIR *d = opendir("/proc/self/fd");
    if (d) {
        int count = 0;
        struct dirent *e;
        while ((e = readdir(d)))
            if (e->d_name[0] != '.') count++;
        closedir(d);
        s->open_fds = count - 1; /* the directory stream's own descriptor */
    }
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
        s->max_fds = (double)rl.rlim_cur;
}
