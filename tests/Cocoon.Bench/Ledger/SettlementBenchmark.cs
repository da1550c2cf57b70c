using System.Diagnostics;
using System.Globalization;
using Cocoon.Ledger.Accounts;
using Cocoon.Ledger.Checks;
using Cocoon.Ledger.Data;
using Cocoon.Testing;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Cocoon.Bench.Ledger;

/// <summary>
/// `./cocoon bench ledger`: settlements per second on a SQLite file. One settlement is a job's money path: a hold,
/// then a settle that pays the provider, the network fee and rounding (9 in 10) or a release (1 in 10).
/// The group-committing writer is measured against its peer in the same run: the same SQL with one transaction
/// per operation (Ledger:MaxBatch = 1). Each mode runs Reps times and the best run counts (the machine is shared);
/// the rate per CPU-second is printed too because on a loaded machine the wall-clock rate mostly measures the
/// neighbours. Both ledgers must pass the invariant check afterwards, or the benchmark fails.
/// COCOON_BENCH_LEDGER_SECONDS (default 4) and COCOON_BENCH_LEDGER_CONCURRENCY (default 256) override the run.
/// </summary>
public static class SettlementBenchmark
{
    private const int Reps = 3;
    private const int Users = 1000;

    public static async Task RunAsync(BenchContext bench)
    {
        ArgumentNullException.ThrowIfNull(bench);
        var ct = bench.CancellationToken;
        var seconds = Setting("COCOON_BENCH_LEDGER_SECONDS", 4);
        var concurrency = Setting("COCOON_BENCH_LEDGER_CONCURRENCY", 256);
        var load = File.Exists("/proc/loadavg") ? $", load average {(await File.ReadAllTextAsync("/proc/loadavg", ct)).Split(' ')[0]}" : "";
        Console.WriteLine($"SQLite (WAL, synchronous=NORMAL), hold + settle 90% / release 10%, {concurrency} jobs in flight, {seconds}s per run, best of {Reps}, {Environment.ProcessorCount} cores{load}");

        var grouped = await BestAsync("group commit (MaxBatch 512)", 512, seconds, concurrency, ct);
        var naive = await BestAsync("one transaction per operation", 1, seconds, concurrency, ct);
        var ratio = grouped.SettlementsPerSecond / Math.Max(naive.SettlementsPerSecond, 1e-9);
        Console.WriteLine($"  ratio {ratio:F1}x; goal >= 10,000 settlements/s: {(grouped.SettlementsPerSecond >= 10_000 ? "met" : "not met")} on this machine now");
        var path = await bench.WriteJsonAsync("ledger", new { benchmark = "ledger-settlements", seconds, concurrency, cores = Environment.ProcessorCount, load, grouped, naive, ratio });
        Console.WriteLine($"  {path}");
    }

    private static async Task<ModeResult> BestAsync(string name, int maxBatch, int seconds, int concurrency, CancellationToken ct)
    {
        ModeResult? best = null;
        for (var rep = 0; rep < Reps; rep++)
        {
            var result = await MeasureAsync(name, maxBatch, seconds, concurrency, ct);
            if (!result.CheckOk)
            {
                throw new InvalidOperationException($"{name}: the ledger is inconsistent after the run: {result.Check}");
            }

            if (best is null || result.SettlementsPerSecond > best.SettlementsPerSecond)
            {
                best = result;
            }
        }

        Console.WriteLine(best!.Line());
        return best;
    }

    private static async Task<ModeResult> MeasureAsync(string name, int maxBatch, int seconds, int concurrency, CancellationToken ct)
    {
        using var dir = new TempDir("cocoon-bench-ledger");
        var database = new LedgerDatabase($"Data Source={dir.File("ledger.db")}");
        var ledger = new JournalLedger(database, Options.Create(new LedgerOptions { MaxBatch = maxBatch }), TimeProvider.System, NullLogger<JournalLedger>.Instance);
        try
        {
            await Task.WhenAll(Enumerable.Range(0, Users).Select(u =>
                ledger.CreditAsync(AccountId.User(u), 1_000_000_000_000, AccountId.TonHotWallet, $"fund:{u}", ct)));

            var settlements = 0L;
            var measuring = false;
            var stop = false;
            var run = Enumerable.Range(0, concurrency).Select(async worker =>
            {
                var provider = AccountId.Provider($"p{worker % 10}");
                for (var job = 0L; !Volatile.Read(ref stop); job++)
                {
                    var payer = AccountId.User((int)((worker + (job * concurrency)) % Users));
                    var hold = await ledger.HoldAsync(payer, 100_000, $"job:{worker}:{job}", ct);
                    if (job % 10 == 9)
                    {
                        await ledger.ReleaseAsync(hold.Id, ct);
                    }
                    else
                    {
                        await ledger.SettleAsync(hold.Id, [new Payee(provider, 54_321), new Payee(AccountId.NetworkFee, 6_035), new Payee(AccountId.Rounding, 1)], ct);
                    }

                    if (Volatile.Read(ref measuring))
                    {
                        Interlocked.Increment(ref settlements);
                    }
                }
            }).ToList();

            await Task.Delay(TimeSpan.FromSeconds(1), ct); // warm-up: JIT, statement preparation, page cache
            var before = ledger.WriterStats;
            var cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
            var clock = Stopwatch.StartNew();
            Volatile.Write(ref measuring, true);
            await Task.Delay(TimeSpan.FromSeconds(seconds), ct);
            Volatile.Write(ref measuring, false);
            var elapsed = clock.Elapsed;
            var cpu = Process.GetCurrentProcess().TotalProcessorTime - cpuBefore;
            var after = ledger.WriterStats;
            var counted = Interlocked.Read(ref settlements);
            Volatile.Write(ref stop, true);
            await Task.WhenAll(run);
            await ledger.DisposeAsync();

            var report = await LedgerChecker.CheckAsync(database, ct);
            var perTransaction = (double)(after.Operations - before.Operations) / Math.Max(after.Batches - before.Batches, 1);
            return new ModeResult(name, maxBatch, counted, elapsed.TotalSeconds, counted / elapsed.TotalSeconds,
                counted / Math.Max(cpu.TotalSeconds, 1e-9), perTransaction, report.Ok, report.Summary);
        }
        finally
        {
            await ledger.DisposeAsync();
            SqliteConnection.ClearAllPools();
        }
    }

    private static int Setting(string variable, int fallback) =>
        int.TryParse(Environment.GetEnvironmentVariable(variable), CultureInfo.InvariantCulture, out var value) && value > 0 ? value : fallback;

    private sealed record ModeResult(
        string Mode, int MaxBatch, long Settlements, double Seconds, double SettlementsPerSecond, double SettlementsPerCpuSecond,
        double OperationsPerTransaction, bool CheckOk, string Check)
    {
        public string Line() => string.Create(CultureInfo.InvariantCulture,
            $"  {Mode,-31} {SettlementsPerSecond,8:N0} settlements/s  {SettlementsPerCpuSecond,8:N0} per CPU-second  {OperationsPerTransaction,6:F1} ops/transaction");
    }
}
