# plot.gp — draws bench_sql's results as bench/RESULTS.png (gnuplot).
#
# Reads the data files bench_sql writes beside RESULTS.md:
#   results.dat  commits/s against threads (1, 2, 4, 8) for mvcc, native
#                SQLite with BEGIN and with BEGIN IMMEDIATE, and TxnDB;
#                gnuplot index 0 normal disjoint (W5/W6), 1 normal hot
#                keys (W7), 2 full disjoint, 3 full hot; index 4 the CPU
#                per commit (µs) of normal disjoint
#   reads.dat    mvcc / native SQLite of the other workloads, normal and full
# Six panels: the four read-modify-write ones, the CPU per commit, and the
# other workloads as bars of the ratio to native (1 = as fast as SQLite).
#
# Usage: gnuplot -e "dir='bench'" bench/plot.gp   (writes dir/RESULTS.png)

if (!exists("dir")) dir = "bench"
set terminal pngcairo size 1500,900 font "sans,10"
set output dir."/RESULTS.png"
set datafile missing "-"
set key top left font ",9" samplen 2 opaque
# room above the lines for the key
set offsets 0, 0, graph 0.35, 0
set grid ytics lc rgb "#dddddd"
set logscale x 2
set xrange [0.8:10]
set xtics (1, 2, 4, 8)
set xlabel "threads"
set yrange [0:*]

res = dir."/results.dat"
set style line 1 lc rgb "#d62728" lw 2.5 pt 7 ps 1.2
set style line 2 lc rgb "#1f77b4" lw 1.5 pt 5 ps 1.0 dt 2
set style line 3 lc rgb "#1f77b4" lw 2 pt 9 ps 1.1
set style line 4 lc rgb "#2ca02c" lw 1.5 pt 13 ps 1.1

rmw(i, t) = sprintf("plot res index %d using 1:2 with linespoints ls 1 title 'mvcc', '' index %d using 1:3 with linespoints ls 2 title 'SQLite BEGIN', '' index %d using 1:4 with linespoints ls 3 title 'SQLite BEGIN IMMEDIATE', '' index %d using 1:5 with linespoints ls 4 title 'TxnDB'", i, i, i, i)

set termoption noenhanced
set multiplot layout 2,3 title "sqlite-mvcc: make bench (bench_sql); read-modify-write transactions (W5-W7) and the other workloads"
set ylabel "commits/s"
set title "synchronous=normal, disjoint keys (W5, W6)"
eval rmw(0, "")
set title "synchronous=normal, 10 hot keys (W7)"
eval rmw(1, "")
set title "CPU per commit, normal, disjoint keys (log scale)"
set ylabel "µs of process CPU per commit"
set logscale y
set yrange [10:*]
eval rmw(4, "")
unset logscale y
set yrange [0:*]
set ylabel "commits/s"
set title "synchronous=full, disjoint keys (W5, W6)"
eval rmw(2, "")
set title "synchronous=full, 10 hot keys (W7)"
eval rmw(3, "")

unset logscale x
set offsets 0, 0, graph 0.1, 0
set title "Other workloads: mvcc / native SQLite (above 1: mvcc faster)"
set ylabel "ratio"
set xlabel ""
set xrange [*:*]
set yrange [0:*]
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set boxwidth 0.9
set xtics rotate by -35 font ",9" nomirror
set bmargin 6
set key top right
set arrow 1 from graph 0, first 1 to graph 1, first 1 nohead lc rgb "#555555" dt 2
plot dir."/reads.dat" using 2:xtic(1) title "normal" lc rgb "#ff7f0e", \
     '' using 3 title "full" lc rgb "#9467bd"
unset multiplot
