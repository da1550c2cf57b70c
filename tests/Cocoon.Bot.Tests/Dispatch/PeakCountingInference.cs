using System.Runtime.CompilerServices;
using Cocoon.Engine.Protocol;
using Cocoon.Worker.Inference;

namespace Cocoon.Bot.Tests.Dispatch;

/// <summary>
/// The real inference service, counting the generations running at once inside the worker and keeping the peak,
/// so a concurrency cap is checked where it matters rather than sampled from outside.
/// </summary>
public sealed class PeakCountingInference(IInferenceService inner) : IInferenceService
{
    private int _current;
    private int _peak;

    public int Current => Volatile.Read(ref _current);

    public int Peak => Volatile.Read(ref _peak);

    public ModelInfo Model => inner.Model;

    public int MaxConcurrency => inner.MaxConcurrency;

    public async IAsyncEnumerable<GenerationChunk> GenerateAsync(GenerationRequest request, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var now = Interlocked.Increment(ref _current);
        int peak;
        while (now > (peak = Volatile.Read(ref _peak)) && Interlocked.CompareExchange(ref _peak, now, peak) != peak)
        {
        }

        try
        {
            await foreach (var chunk in inner.GenerateAsync(request, cancellationToken).ConfigureAwait(false))
            {
                yield return chunk;
            }
        }
        finally
        {
            Interlocked.Decrement(ref _current);
        }
    }
}
