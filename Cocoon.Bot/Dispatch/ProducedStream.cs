using System.Runtime.CompilerServices;
using System.Threading.Channels;

namespace Cocoon.Bot.Dispatch;

/// <summary>
/// An answer stream fed by a task that runs on its own: the producer writes events into a channel while the caller
/// reads them. When the caller stops listening (it left, or the answer is complete) the producer is cancelled and
/// awaited, so its cleanup (a hold released, the worker told to stop) always runs; its failure ends the stream.
/// With <c>drainOnCancel</c>, a caller that stops (rather than leaves) still gets every event the producer wrote up to
/// its end, then the cancellation.
/// </summary>
internal static class ProducedStream
{
    public static async IAsyncEnumerable<T> RunAsync<T>(
        Func<ChannelWriter<T>, CancellationToken, Task> produce, [EnumeratorCancellation] CancellationToken cancellationToken, bool drainOnCancel = false)
    {
        ArgumentNullException.ThrowIfNull(produce);
        // The caller's loop runs on the producer's thread when an event is written (up to its next wait), not after a
        // hop through the thread pool: one wake-up less between a piece opened and the caller having it.
        var events = Channel.CreateUnbounded<T>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true, AllowSynchronousContinuations = true });
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var run = produce(events.Writer, cts.Token);
        try
        {
            while (await WaitAsync(events.Reader, drainOnCancel, cancellationToken).ConfigureAwait(false))
            {
                while (events.Reader.TryRead(out var e))
                {
                    yield return e;
                }
            }

            if (drainOnCancel && cancellationToken.IsCancellationRequested)
            {
                // Stopped: the producer finishes its stop (the worker's receipt for the part taken), then the caller
                // gets what was still queued, and the cancellation.
                await cts.CancelAsync().ConfigureAwait(false);
                await run.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                while (events.Reader.TryRead(out var e))
                {
                    yield return e;
                }

                throw new OperationCanceledException(cancellationToken);
            }

            await run.ConfigureAwait(false);
        }
        finally
        {
            await cts.CancelAsync().ConfigureAwait(false);
            await run.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    private static async ValueTask<bool> WaitAsync<T>(ChannelReader<T> reader, bool drainOnCancel, CancellationToken cancellationToken)
    {
        if (!drainOnCancel)
        {
            return await reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false);
        }

        try
        {
            return await reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return false;
        }
    }
}
