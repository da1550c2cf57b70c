using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using System.Threading.Channels;
using Cocoon.Engine.Protocol;
using Cocoon.Engine.SpotChecks;

namespace Cocoon.Worker.Inference;

/// <summary>Score mode: a spot check of another worker's answer (one pre-fill with logits, no sampling).</summary>
public sealed partial class LlamaInferenceService : IScoringService
{
    public async Task<ScoreResult> ScoreAsync(GenerationRequest request, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        ArgumentNullException.ThrowIfNull(request);
        var answer = request.Score?.AnswerTokens.ToArray() ?? throw new ArgumentException("score: no answer tokens to score.", nameof(request));
        var prompt = Prepare(request);
        var vocab = _model.VocabSize;
        // The answer holds at most max_tokens drawn tokens and the end-of-generation token.
        if (answer.Length == 0 || answer.Length > request.Sampling.MaxTokens + 1 || answer.Any(t => (uint)t >= (uint)vocab))
        {
            throw new ArgumentException($"score: between 1 and max_tokens + 1 answer tokens, each below the vocabulary size {vocab}.", nameof(request));
        }

        if (prompt.Length + answer.Length > ContextLength)
        {
            throw new ContextExceededException(prompt.Length, answer.Length, ContextLength);
        }

        var run = new ScoreRun(prompt.Length, answer, request.Sampling, vocab);
        var sequence = new Sequence([.. prompt, .. answer], request.Sampling) { Score = run };
        var stopwatch = Stopwatch.StartNew();
        using (cancellationToken.Register(
            static state =>
            {
                var (s, loop) = ((Sequence, DecodeLoop))state!;
                s.Cancel();
                loop.RequestAbort();
            },
            (sequence, _loop)))
        {
            try
            {
                await _loop.EnqueueAsync(sequence, cancellationToken).ConfigureAwait(false);
            }
            catch (ChannelClosedException)
            {
                throw new ObjectDisposedException(nameof(LlamaInferenceService));
            }

            GenerationUsage? usage = null;
            await foreach (var chunk in sequence.Output.Reader.ReadAllAsync(CancellationToken.None).ConfigureAwait(false))
            {
                usage = chunk.Usage ?? usage;
            }

            if (usage?.FinishReason != FinishReason.Stop || run.Positions.Any(p => p is null))
            {
                cancellationToken.ThrowIfCancellationRequested();
                throw new OperationCanceledException("The scoring run ended early.");
            }
        }

        var (text, endsWithEog, stopHit) = Spell(answer, request.Sampling.Stop);
        var report = new ScoreReport(vocab, endsWithEog, stopHit, SHA256.HashData(Encoding.UTF8.GetBytes(text)), run.Positions);
        return new ScoreResult(report, prompt.Length + answer.Length, stopwatch.Elapsed);
    }

    /// <summary>The lowest end-of-generation token id (tests and benchmarks build truncated answers with it).</summary>
    internal int FirstEndOfGenerationToken() =>
        Enumerable.Range(0, _model.VocabSize).First(_model.IsEndOfGeneration);

    /// <summary>
    /// The text an honest worker would have delivered for these tokens: the same detokenizer and stop-string handling
    /// as generation (TextStream), the end-of-generation token rendering as nothing.
    /// </summary>
    internal (string Text, bool EndsWithEndOfGeneration, bool StopStringHit) Spell(int[] answer, IReadOnlyList<string> stops)
    {
        var endsWithEog = _model.IsEndOfGeneration(answer[^1]);
        var stream = new TextStream(stops);
        var text = new StringBuilder();
        Span<byte> piece = stackalloc byte[256];
        for (var i = 0; i < answer.Length - (endsWithEog ? 1 : 0); i++)
        {
            var length = _model.TokenToPiece(answer[i], piece, out var large);
            text.Append(stream.Push(large ?? piece[..length]));
        }

        text.Append(stream.Flush());
        return (text.ToString(), endsWithEog, stream.Stopped);
    }
}
