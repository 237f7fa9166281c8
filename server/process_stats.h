/* Process statistics for the standard process_* metrics, read from /proc on Linux. */
#ifndef SRV_PROCESS_STATS_H
#define SRV_PROCESS_STATS_H

typedef struct srv_process_stats {
    double cpu_seconds; /* user + system */
    double resident_bytes;
    double virtual_bytes;
    double start_time_seconds; /* since the Unix epoch */
    double open_fds;
    double max_fds;
} srv_process_stats;

/* Fills *s. Fields that cannot be read are set to -1 (the caller omits them). */
void srv_process_stats_read(srv_process_stats *s);

#endif
