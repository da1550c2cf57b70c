using Cocoon.Engine.Protocol;

namespace Cocoon.Worker.Inference;

/// <summary>
/// The registered <see cref="IInferenceService"/> of a host: it serves through the llama.cpp service once
/// <see cref="LlamaModelLoader"/> has loaded it at start. The host builds every hosted service before it starts the
/// first, so consumers get this holder at once and use it after start-up; services registered after
/// AddLlamaInference start after the load (the worker host registers with the gateway only then). Used earlier, it
/// throws with what to fix. Disposing it disposes the loaded service.
/// </summary>
public sealed class LlamaInferenceHolder : IInferenceService, IScoringService, IDisposable
{
    private readonly Lock _gate = new();
    private LlamaInferenceService? _service;
    private bool _disposed;

    /// <summary>The loaded service; throws before the host has started (the loader has not run yet).</summary>
    public LlamaInferenceService Service
    {
        get
        {
            ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed), this);
            return Volatile.Read(ref _service) ?? throw new InvalidOperationException(
                "The model is not loaded yet: it loads when the host starts (LlamaModelLoader). Start the host first, and register " +
                "AddLlamaInference before the hosted services that use the model, as hosted services start in registration order.");
        }
    }

    public bool IsLoaded => Volatile.Read(ref _service) is not null;

    public ModelInfo Model => Service.Model;

    public int MaxConcurrency => Service.MaxConcurrency;

    public IAsyncEnumerable<GenerationChunk> GenerateAsync(GenerationRequest request, CancellationToken cancellationToken) =>
        Service.GenerateAsync(request, cancellationToken);

    public Task<ScoreResult> ScoreAsync(GenerationRequest request, CancellationToken cancellationToken) =>
        Service.ScoreAsync(request, cancellationToken);

    /// <summary>Called once by the loader; a service loaded after the host was disposed is disposed at once.</summary>
    internal void Set(LlamaInferenceService service)
    {
        ArgumentNullException.ThrowIfNull(service);
        lock (_gate)
        {
            if (!_disposed && _service is null)
            {
                Volatile.Write(ref _service, service);
                return;
            }
        }

        service.Dispose();
        throw new InvalidOperationException("The inference holder was disposed or already holds a loaded model.");
    }

    public void Dispose()
    {
        LlamaInferenceService? service;
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            Volatile.Write(ref _disposed, true);
            service = _service;
        }

        service?.Dispose();
    }
}
