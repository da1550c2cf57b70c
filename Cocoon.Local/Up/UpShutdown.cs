namespace Cocoon.Local.Up;

/// <summary>
/// up's shutdown: stages in order (the workers, then the gateways, the chain, Redis last), the processes of a stage
/// stopped together. A stop that throws is reported and the others still run: one failing step (a child whose restart
/// had failed, a process that could not be signalled) used to abort the whole shutdown and leave the later stages'
/// processes running.
/// </summary>
internal static class UpShutdown
{
    /// <summary>Stops everything in <paramref name="stages"/>; returns how many stops failed (each reported on <paramref name="errors"/>).</summary>
    public static async Task<int> RunAsync(IEnumerable<IEnumerable<(string Name, Func<ValueTask> Stop)>> stages, TextWriter errors)
    {
        ArgumentNullException.ThrowIfNull(stages);
        ArgumentNullException.ThrowIfNull(errors);
        var failed = 0;
        foreach (var stage in stages)
        {
            await Task.WhenAll(stage.Select(async step =>
            {
                try
                {
                    await step.Stop().ConfigureAwait(false);
                }
#pragma warning disable CA1031 // reported; the other processes must still be stopped
                catch (Exception ex)
#pragma warning restore CA1031
                {
                    Interlocked.Increment(ref failed);
                    lock (errors)
                    {
                        errors.WriteLine($"cocoon up: stopping the {step.Name} failed ({ex.GetType().Name}: {ex.Message}); stopping the rest");
                    }
                }
            })).ConfigureAwait(false);
        }

        return failed;
    }
}
