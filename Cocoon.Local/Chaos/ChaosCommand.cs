using System.Diagnostics;

namespace Cocoon.Local.Chaos;

/// <summary>
/// <c>./cocoon chaos [--jobs N] [--concurrency C]</c>: the project measuring its own fault tolerance. Starts the stack
/// in process mode (<c>up</c> with 2 gateways and 3 workers on a temporary COCOON_DATA and free loopback ports), drives
/// N streamed greedy chat completions over both gateways while it SIGKILLs workers (about 10% of the jobs hit), SIGKILLs
/// gateway 2 once and restarts Redis once, waits for the holds the killed gateway left to expire, stops the stack and
/// prints what the clients saw and what the ledger holds. Exit 0 only when nothing was lost, answered twice or billed
/// twice, no hold is left open and the ledger's invariants hold; 1 otherwise (the data folder is then kept).
/// </summary>
internal static class ChaosCommand
{
    public static async Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        var output = Console.Out;
        ChaosSettings settings;
        try
        {
            settings = ChaosSettings.Parse(args);
        }
        catch (ChaosSettingsException ex)
        {
            await Console.Error.WriteLineAsync("cocoon chaos: " + ex.Message + "\n" + ChaosSettings.Usage);
            return 2;
        }

        var wall = Stopwatch.StartNew();
        var data = Directory.CreateTempSubdirectory("cocoon-chaos-").FullName;
        var pass = false;
        try
        {
            ChaosReport report;
            var stack = ChaosStack.Start(settings, data);
            await using (stack.ConfigureAwait(false))
            {
                Say(output, $"starting the stack (2 gateways, 3 workers, Redis) under {data}; its output goes to {stack.LogPath}");
                if (!await stack.WaitReadyAsync(TimeSpan.FromMinutes(8), cancellationToken))
                {
                    Say(output, $"the stack did not come up (see {stack.LogPath})");
                    return 1;
                }

                var faults = new ChaosFaults(stack, settings, output);
                using var driver = new ChaosDriver(stack, settings, faults, output);
                Say(output, $"up after {wall.Elapsed.TotalSeconds:0} s; asking each of {Math.Min(ChaosDriver.PromptCount, settings.Jobs)} prompts once for its greedy reference");
                if (await driver.ReferencesAsync(cancellationToken) is { } problem)
                {
                    Say(output, problem + $" (see {stack.LogPath})");
                    return 1;
                }

                Say(output, $"driving {settings.Jobs} jobs, {settings.Concurrency} at a time");
                var jobs = await driver.RunAsync(cancellationToken);
                var ledger = ChaosLedger.Open(data);
                var holdsLeft = await DrainHoldsAsync(ledger, settings, faults, output, cancellationToken);
                var charges = await ChaosLedger.ChargesAsync(ledger, cancellationToken);

                // The ledger is checked once nothing writes to it any more.
                await stack.DisposeAsync();
                var check = await ChaosLedger.CheckAsync(ledger, cancellationToken);
                report = ChaosReport.Build(jobs, driver, faults, stack, charges, holdsLeft, check);
            }

            await output.WriteAsync(report.Render(settings, wall.Elapsed));

            // up stopped: nothing of its stack may still run (a gateway, worker or Redis left behind is a fault of its
            // shutdown). Any found is named and killed, and fails the run.
            var left = ChaosStack.LeftBehind(data, stack.RedisPort);
            Say(output, left.Count == 0
                ? "no process of the stack was left running"
                : $"{left.Count} processes of the stack were left running (killed now): " + string.Join("; ", left.Select(p => $"{p.Pid}: {p.CommandLine}")));
            foreach (var (pid, _) in left)
            {
                _ = ChaosStack.Signal(pid, ChaosStack.Sigkill);
            }

            pass = report.Pass && left.Count == 0;
            return pass ? 0 : 1;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            Say(output, "interrupted; the stack was stopped");
            return 130;
        }
        finally
        {
            if (pass && !settings.Keep)
            {
                Directory.Delete(data, recursive: true);
            }
            else
            {
                Say(output, $"kept {data} (up.log, ledger.db, redis/) to look into");
            }
        }
    }

    /// <summary>
    /// Waits until no hold is open, or until the killed gateway's holds have had their lifetime and a sweep or two to
    /// expire (nothing else should be open once every client has its answer); returns how many are still open.
    /// </summary>
    private static async Task<long> DrainHoldsAsync(Cocoon.Ledger.Data.LedgerDatabase ledger, ChaosSettings settings, ChaosFaults faults, TextWriter output, CancellationToken cancellationToken)
    {
        var since = faults.GatewayKilledAt ?? DateTime.UtcNow;
        var deadline = Max(since + settings.HoldTtl, DateTime.UtcNow) + 3 * ChaosSettings.SweepInterval;
        var open = await ChaosLedger.ActiveHoldsAsync(ledger, cancellationToken);
        if (open > 0)
        {
            Say(output, $"{open} holds open (a killed gateway's holds expire after Ledger:HoldTtl = {settings.HoldTtl.TotalSeconds:0} s); waiting up to {(deadline - DateTime.UtcNow).TotalSeconds:0} s");
        }

        while (open > 0 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(1000, cancellationToken);
            open = await ChaosLedger.ActiveHoldsAsync(ledger, cancellationToken);
        }

        return open;
    }

    private static DateTime Max(DateTime a, DateTime b) => a > b ? a : b;

    private static void Say(TextWriter output, string line)
    {
        lock (output)
        {
            output.WriteLine($"cocoon chaos: {DateTime.UtcNow:HH:mm:ss} {line}");
        }
    }
}
