using System.Runtime.CompilerServices;
using Cocoon.Bot.Reputation;
using Cocoon.Bot.Slashing;
using Cocoon.Bot.Tests.Dispatch;
using Cocoon.Engine.Protocol;
using Cocoon.Network.Providers;
using Cocoon.Worker.Inference;
using Microsoft.Extensions.DependencyInjection;

namespace Cocoon.Bot.Tests.Reputation;

/// <summary>
/// The no-token dodge on real llama.cpp workers: a worker that seals no token ids with its sampled answers cannot be
/// spot-checked, so a picked answer of it counts as a failed check (reputation, not stake).
/// </summary>
public sealed class UnverifiableReplayTests(RedisFixture redis) : IClassFixture<RedisFixture>
{
    private readonly CancellationToken _ct = new CancellationTokenSource(TimeSpan.FromSeconds(180)).Token;

    [Fact]
    public async Task A_picked_sampled_answer_without_its_token_ids_counts_as_a_failed_check()
    {
        await using var network = new DispatchNetwork(redis.Server, new Dictionary<string, string?> { ["Gateway:Replays:Fraction"] = "1" });
        await network.StartAsync(_ct);
        var (_, honest) = await network.StartWorkerAsync(_ct);
        var (_, dodger) = await network.StartWorkerAsync(_ct, DispatchNetwork.InRegion("eu"), wrap: inner => new TokenlessInference(inner));
        var payer = await network.FundedPayerAsync(1_000_000_000, _ct);
        var book = network.Gateway.Services.GetRequiredService<ReputationBook>();
        var request = DispatchNetwork.Request(payer, "Once upon a time", 24) is var r
            ? r with { Region = "eu", Generation = r.Generation with { Sampling = r.Generation.Sampling with { Temperature = 0.8f } } }
            : throw new InvalidOperationException();

        // The user gets the answer; the check that follows finds nothing to score.
        var (text, receipt) = await network.AskAsync(request, _ct);
        Assert.Equal(dodger.WorkerId, receipt.WorkerId);
        Assert.NotEmpty(text);
        while (book.State(dodger.WorkerId).SpotChecksFailed == 0)
        {
            await Task.Delay(50, _ct);
        }

        var state = book.State(dodger.WorkerId);
        Assert.Equal(1, state.SpotChecksFailed);
        Assert.Equal(0, state.ReceiptMismatches); // its receipt was honest: only the check was dodged
        Assert.True(book.Score(dodger.WorkerId) < network.Gateway.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<DispatchOptions>>().Value.ReputationFloor);
        Assert.Contains(book.Model.Score(state).Reasons, x => x.Code == "integrity-fault");
        Assert.Equal(0, book.State(honest.WorkerId).SpotChecksFailed);

        // The rule, called directly: unverifiable, and nothing is slashed for it.
        var worker = network.Directory.Eligible.Single(w => w.Document.WorkerId == honest.WorkerId);
        var replays = network.Gateway.Services.GetRequiredService<Replays>();
        Assert.Equal(ReplayResult.Unverifiable, await replays.CheckAsync(request, worker, text, null, FinishReason.Length, _ct));
        Assert.Equal(1, book.State(honest.WorkerId).SpotChecksFailed);
        Assert.Empty(await network.Gateway.Services.GetRequiredService<SlashBook>().ForProviderAsync(ProviderDirectory.LocalProviderId, 10, _ct));
    }
}

/// <summary>The real inference service, withholding the answer's token ids (the receipt and the text are honest). A test-only seam.</summary>
public sealed class TokenlessInference(IInferenceService inner) : IInferenceService
{
    public ModelInfo Model => inner.Model;

    public int MaxConcurrency => inner.MaxConcurrency;

    public async IAsyncEnumerable<GenerationChunk> GenerateAsync(GenerationRequest request, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await foreach (var chunk in inner.GenerateAsync(request, cancellationToken).ConfigureAwait(false))
        {
            yield return chunk.Usage is { } usage ? chunk with { Usage = usage with { AnswerTokens = null } } : chunk;
        }
    }
}
