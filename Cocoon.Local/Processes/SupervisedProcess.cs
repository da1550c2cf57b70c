namespace Cocoon.Local.Processes;

/// <summary>
/// A child that <c>up</c> keeps running once the stack is ready: when it exits on its own it is started again after a
/// backoff (1 s, doubling to 30 s; back to 1 s after it ran for a minute), so one crashed worker or gateway costs a
/// restart, not the whole stack. Before <see cref="Supervise"/> is called an exit is final, so a child that cannot
/// start at all (a bad setting) stops <c>up</c> with its error instead of looping.
/// </summary>
internal sealed class SupervisedProcess(string name, Func<ChildProcess> start, TextWriter output) : IAsyncDisposable
{
    private static readonly TimeSpan FirstBackoff = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan StableAfter = TimeSpan.FromMinutes(1);

    private readonly CancellationTokenSource _stop = new();
    private ChildProcess _current = start();
    private Task _loop = Task.CompletedTask;
    private int _disposed;

    public string Name { get; } = name;

    /// <summary>The process running now (a restart replaces it).</summary>
    public ChildProcess Current => Volatile.Read(ref _current);

    /// <summary>How many times the child was started again after it exited.</summary>
    public int Restarts { get; private set; }

    public void Supervise() => _loop = Task.Run(() => LoopAsync(_stop.Token));

    /// <summary>The supervision loop: ends when disposed, or faulted when a restart failed.</summary>
    internal Task Supervision => _loop;

    private async Task LoopAsync(CancellationToken cancellationToken)
    {
        var backoff = FirstBackoff;
        while (!cancellationToken.IsCancellationRequested)
        {
            var started = DateTime.UtcNow;
            var child = Current;
            await child.Exited.WaitAsync(cancellationToken).ConfigureAwait(false);
            if (DateTime.UtcNow - started >= StableAfter)
            {
                backoff = FirstBackoff;
            }

            Say($"the {Name} exited (code {child.ExitCode}); starting it again in {backoff.TotalSeconds:0} s");
            await child.DisposeAsync().ConfigureAwait(false);
            await Task.Delay(backoff, cancellationToken).ConfigureAwait(false);
            backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, MaxBackoff.Ticks));
            Volatile.Write(ref _current, start());
            Restarts++;
        }
    }

    private void Say(string line)
    {
        lock (output)
        {
            output.WriteLine("cocoon up: " + line);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _stop.CancelAsync().ConfigureAwait(false);
        try
        {
            await _loop.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
#pragma warning disable CA1031 // a restart that failed (the program gone, no more processes) ended the loop; the child still stops
        catch (Exception ex)
#pragma warning restore CA1031
        {
            Say($"the {Name}'s supervisor had stopped: {ex.Message}");
        }

        await Current.DisposeAsync().ConfigureAwait(false);
        _stop.Dispose();
    }
}
