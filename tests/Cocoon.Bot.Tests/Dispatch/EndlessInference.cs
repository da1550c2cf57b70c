namespace Cocoon.Bot.Tests.Dispatch;

/// <summary>Streams one token, then waits for cancellation: the stand-in for a long answer (the dispatch tests' own).</summary>
internal sealed class EndlessInference(string modelName) : IInferenceService
{
    private readonly TaskCompletionSource _stopped = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public ModelInfo Model { get; } = new(modelName, new string('e', 64), "none", 0, 4096, 4096, HasChatTemplate: false);

    public int MaxConcurrency => 4;

    /// <summary>Completes when the generation was cancelled (or otherwise ended).</summary>
    public Task Stopped => _stopped.Task;

    public async IAsyncEnumerable<GenerationChunk> GenerateAsync(GenerationRequest request, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        yield return new GenerationChunk("Once");
        try
        {
            await Task.Delay(Timeout.Infinite, cancellationToken);
        }
        finally
        {
            _stopped.TrySetResult();
        }
    }
}
