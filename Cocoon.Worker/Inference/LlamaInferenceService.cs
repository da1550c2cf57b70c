using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Threading.Channels;
using Cocoon.Engine.Protocol;
using Cocoon.Worker.Native;
using Microsoft.Extensions.Logging;

namespace Cocoon.Worker.Inference;

/// <summary>
/// llama.cpp inference with continuous batching: one model, one context, one decode thread (see DecodeLoop). Every
/// request is a sequence in the shared KV cache; requests join between decode steps and free their sequence as soon as
/// they end. This type is the front door: it loads the model, checks and tokenizes each request, queues it for the
/// decode loop and streams its chunks back. A cancelled request ends with a final chunk whose finish reason is
/// Cancelled (its usage still counts what ran).
/// </summary>
public sealed partial class LlamaInferenceService : IInferenceService, IDisposable
{
    // A base64 HMAC-SHA-256 is 44 characters; anything much longer is not a scope the gateway made.
    private const int MaxCacheScopeLength = 128;

    private readonly LlamaModel _model;
    private readonly DecodeLoop _loop;
    private int _disposed;

    private LlamaInferenceService(LlamaModel model, LlamaInferenceOptions options, string sha256, ILogger logger, TimeProvider time)
    {
        _model = model;
        _loop = new DecodeLoop(model, options, logger, time);
        Model = new ModelInfo(
            Path.GetFileNameWithoutExtension(model.Path),
            sha256,
            model.Architecture,
            model.ParameterCount,
            model.TrainedContextLength,
            ContextLength,
            model.ChatTemplate is not null);
        LogReady(logger, Model.Name, Model.Architecture, Model.ParameterCount, ContextLength, MaxConcurrency, _loop.Threads);
    }

    public ModelInfo Model { get; }

    public int MaxConcurrency => _loop.MaxConcurrency;

    /// <summary>llama_decode calls so far, aborted ones included (lets tests see how soon a cancellation acts).</summary>
    internal long DecodeSteps => _loop.DecodeSteps;

    /// <summary>
    /// Where the decode thread's busy time went since start: inside llama_decode, and in this service around it
    /// (admitting, building the batch, sampling, detokenizing, handing out text). Idle waits count in neither.
    /// </summary>
    public DecodeLoopStats Stats => _loop.Stats;

    /// <summary>Prefix-cache counters since start (hit rate, cached tokens, evictions).</summary>
    public PrefixCacheStats CacheStats => _loop.CacheStats;

    /// <summary>Sequence slots not in use right now.</summary>
    public int FreeSequences => _loop.FreeSequences;

    /// <summary>Tokens of context each sequence has (prompt + completion).</summary>
    public int ContextLength => _loop.ContextLength;

    /// <summary>Loads llama.cpp, the model and a context. Progress reports 0..1 while the weights load; cancellable.</summary>
    public static async Task<LlamaInferenceService> LoadAsync(
        LlamaInferenceOptions options,
        ILoggerFactory loggerFactory,
        TimeProvider timeProvider,
        IProgress<float>? progress,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(loggerFactory);
        ArgumentNullException.ThrowIfNull(timeProvider);
        options.Validate();
        var backend = LlamaLibraryLocator.ParseBackend(options.Backend);
        var location = LlamaLibraryLocator.Locate(backend, options.LibraryDir, Environment.GetEnvironmentVariable, CanLoadSystemLibrary);
        LlamaLibrary.EnsureLoaded(location, loggerFactory.CreateLogger("Cocoon.Worker.Native.LlamaCpp"));

        var path = ModelLocator.Resolve(options.Model, Environment.CurrentDirectory);
        var dataDir = Path.GetFullPath(options.DataDir is { Length: > 0 } d ? d : Network.Hosting.CocoonEnvironment.DefaultDataDir);
        LlamaModel.CheckGguf(path);
        var hash = ModelIdentity.Sha256Async(path, dataDir, cancellationToken);
        var model = await Task.Run(() => LlamaModel.Load(path, progress, cancellationToken), cancellationToken).ConfigureAwait(false);
        try
        {
            if (model.HasEncoder)
            {
                throw new LlamaException($"{path} is an encoder-decoder model; the worker serves decoder-only (causal) models.");
            }

            var service = new LlamaInferenceService(model, options, await hash.ConfigureAwait(false), loggerFactory.CreateLogger<LlamaInferenceService>(), timeProvider);
            try
            {
                if (options.WarmUp)
                {
                    await service.WarmUpAsync(cancellationToken).ConfigureAwait(false);
                }
            }
            catch
            {
                service.Dispose();
                throw;
            }

            return service;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>
    /// One short greedy answer from the beginning-of-sequence token through the whole path a job takes (queue, prompt
    /// decode, sampling, a one-token step, detokenizing, chunks, the consumer's reads), so the first job does not pay for
    /// first calls; the decode loop then clears the KV cache and its counters (see LlamaInferenceOptions.WarmUp).
    /// </summary>
    private async Task WarmUpAsync(CancellationToken cancellationToken)
    {
        var sequence = new Sequence([_model.WarmUpToken], new SamplingOptions { MaxTokens = 2, Temperature = 0 }) { IsWarmUp = true };
        await foreach (var chunk in StreamAsync(sequence, cancellationToken).ConfigureAwait(false))
        {
            if (chunk.Usage?.FinishReason == FinishReason.Cancelled)
            {
                cancellationToken.ThrowIfCancellationRequested();
            }
        }
    }

    internal static bool CanLoadSystemLibrary(string name)
    {
        if (!NativeLibrary.TryLoad(name, out var handle))
        {
            return false;
        }

        NativeLibrary.Free(handle);
        return true;
    }

    public async IAsyncEnumerable<GenerationChunk> GenerateAsync(GenerationRequest request, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        var tokens = Prepare(request, out var promptText);
        var resumedPromptTokens = 0;
        var sequence = request.Continuation is null
            ? new Sequence(tokens, request.Sampling, request.CacheScope)
            : Continuation.Resume(_model, promptText, tokens, request, ContextLength, out resumedPromptTokens);
        if (sequence is null)
        {
            // A resumed answer that already has all its max_tokens: it ends here, at its length, with nothing new.
            yield return new GenerationChunk(string.Empty, new GenerationUsage(resumedPromptTokens, 0, FinishReason.Length, TimeSpan.Zero, TimeSpan.Zero));
            yield break;
        }

        await foreach (var chunk in StreamAsync(sequence, cancellationToken).ConfigureAwait(false))
        {
            yield return chunk;
        }
    }

    /// <summary>Queues a sequence for the decode loop and streams its chunks; a cancellation ends it with a Cancelled chunk.</summary>
    private async IAsyncEnumerable<GenerationChunk> StreamAsync(Sequence sequence, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using var registration = cancellationToken.Register(
            static state =>
            {
                var (s, loop) = ((Sequence, DecodeLoop))state!;
                s.Cancel();
                loop.RequestAbort();
            },
            (sequence, _loop));
        var enqueued = false;
        try
        {
            try
            {
                await _loop.EnqueueAsync(sequence, cancellationToken).ConfigureAwait(false);
                enqueued = true;
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
            }
            catch (ChannelClosedException)
            {
                throw new ObjectDisposedException(nameof(LlamaInferenceService));
            }

            if (!enqueued)
            {
                yield return new GenerationChunk(string.Empty, new GenerationUsage(sequence.PromptTokens.Length, 0, FinishReason.Cancelled, TimeSpan.Zero, TimeSpan.Zero));
                yield break;
            }

            await foreach (var chunk in sequence.Output.Reader.ReadAllAsync(CancellationToken.None).ConfigureAwait(false))
            {
                yield return chunk;
            }
        }
        finally
        {
            // A consumer that stops reading early frees the slot too.
            if (sequence.Cancel() && enqueued)
            {
                _loop.RequestAbort();
            }
        }
    }

    /// <summary>
    /// Checks a request and tokenizes its prompt; every check llama.cpp would assert on happens here. The limits that do
    /// not depend on the model are the protocol's (<see cref="GenerationRules"/>, the same the gateway applies); what is
    /// left needs the model: the chat template, the tokens and this context's size.
    /// </summary>
    internal int[] Prepare(GenerationRequest request) => Prepare(request, out _);

    private int[] Prepare(GenerationRequest request, out string text)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (GenerationRules.Check(request) is { } violation)
        {
            throw new ArgumentException($"{violation.Param}: {violation.Message}", nameof(request));
        }

        if (request.CacheScope is { Length: 0 or > MaxCacheScopeLength })
        {
            throw new ArgumentException($"cache_scope: between 1 and {MaxCacheScopeLength} characters, or none.", nameof(request));
        }

        text = request.Messages is { } messages ? _model.RenderChat(messages) : request.Prompt!;
        var tokens = _model.Tokenize(text);
        if (tokens.Length == 0)
        {
            throw new ArgumentException("The prompt has no tokens.", nameof(request));
        }

        // The prompt and the whole answer must fit: an answer is never cut short by a full context it was promised.
        if ((long)tokens.Length + request.Sampling.MaxTokens > ContextLength)
        {
            throw new ContextExceededException(tokens.Length, request.Sampling.MaxTokens, ContextLength);
        }

        return tokens;
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _loop.Dispose();
        _model.Dispose();
    }

    [LoggerMessage(EventId = LogEvents.Inference + 1, Level = LogLevel.Information,
        Message = "Model {Name} ready: {Architecture}, {Parameters} parameters, {Context} tokens per sequence, {Sequences} sequences, {Threads} threads")]
    private static partial void LogReady(ILogger logger, string name, string architecture, long parameters, int context, int sequences, int threads);
}
