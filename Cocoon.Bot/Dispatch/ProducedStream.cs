using System.Runtime.CompilerServices;
using System.Threading.Channels;

namespace Cocoon.Bot.Dispatch;

/// <summary>
/// An answer stream fed by a task that runs on its own: the producer writes events into a channel while the caller
/// reads them. When the caller stops listening (it left, or the answer is complete) the producer is cancelled and
/// awaited, so its cleanup (a hold released, the worker told to stop) always runs; its failure ends the stream.
/// </summary>
internal static class ProducedStream
{
    public static async IAsyncEnumerable<T> RunAsync<T>(
        Func<ChannelWriter<T>, CancellationToken, Task> produce, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(produce);
        var events = Channel.CreateUnbounded<T>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var run = produce(events.Writer, cts.Token);
        try
        {
            await foreach (var e in events.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                yield return e;
            }

            await run.ConfigureAwait(false);
        }
        finally
        {
            await cts.CancelAsync().ConfigureAwait(false);
            await run.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }
}
