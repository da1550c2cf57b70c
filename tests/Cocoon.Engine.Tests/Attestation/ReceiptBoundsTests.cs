using Cocoon.Engine.Attestation;
using Cocoon.Engine.Protocol;

namespace Cocoon.Engine.Tests.Attestation;

/// <summary>The bounds a receipt's token counts are billed at (<see cref="ReceiptBounds"/>): pure, no server.</summary>
public sealed class ReceiptBoundsTests
{
    private static UsageReceipt Receipt(int prompt, int completion, int cached = 0) => new()
    {
        RequestId = "req-1",
        WorkerId = "w",
        ModelSha256 = new string('a', 64),
        PromptTokens = prompt,
        CachedPromptTokens = cached,
        CompletionTokens = completion,
        FinishReason = FinishReason.Stop,
        ChunksSha256 = new byte[32],
        WorkerStartedAt = DateTimeOffset.UnixEpoch,
        WorkerFinishedAt = DateTimeOffset.UnixEpoch,
        RequestSha256 = new byte[32],
        ResponseSha256 = new byte[32],
        PriceCoefficient = 1000,
        TeeKind = TeeKinds.Simulated,
    };

    [Fact]
    public void The_prompt_bound_counts_every_byte_the_worker_tokenizes_plus_the_template_allowance()
    {
        Assert.Equal(5 + ReceiptBounds.TemplateAllowance, ReceiptBounds.PromptTokens(new GenerationRequest { Prompt = "hello" }));

        // "é" is two UTF-8 bytes; each message adds its role's bytes and one allowance.
        var chat = new GenerationRequest { Messages = [new("system", "be brief"), new("user", "café")] };
        Assert.Equal((6 + 8 + 16) + (4 + 5 + 16) + 16, ReceiptBounds.PromptTokens(chat));

        // A resumed attempt pre-fills the delivered text too.
        var resumed = new GenerationRequest { Prompt = "hello", Continuation = " world" };
        Assert.Equal(5 + 6 + ReceiptBounds.TemplateAllowance, ReceiptBounds.PromptTokens(resumed));
    }

    [Fact]
    public void The_completion_bound_is_the_delivered_bytes_plus_the_longest_stop_and_the_slack_and_never_more_than_the_sealed_ids()
    {
        Assert.Equal(10 + ReceiptBounds.CompletionSlack, ReceiptBounds.CompletionTokens(10, [], null));
        Assert.Equal(10 + 6 + ReceiptBounds.CompletionSlack, ReceiptBounds.CompletionTokens(10, ["\n", "User: "], null));
        // Multi-byte stop strings count their bytes.
        Assert.Equal(ReceiptBounds.CompletionSlack + 3, ReceiptBounds.CompletionTokens(0, ["…"], null));

        // The token ids the worker sealed bound it exactly when they are fewer.
        Assert.Equal(7, ReceiptBounds.CompletionTokens(100, [], 7));
        Assert.Equal(100 + ReceiptBounds.CompletionSlack, ReceiptBounds.CompletionTokens(100, [], 1_000));
        Assert.Throws<ArgumentOutOfRangeException>(() => ReceiptBounds.CompletionTokens(-1, [], null));

        // A resumed attempt writes up to MaxHealedTokens of the delivered text again without sending their bytes: an
        // honest one that healed 8 tokens and then ended at once (0 new bytes) is within the bound.
        Assert.True(ReceiptBounds.CompletionTokens(0, [], null, resumed: true) >= ReceiptBounds.MaxHealedTokens);
        Assert.Equal(ReceiptBounds.CompletionTokens(0, [], null) + ReceiptBounds.MaxHealedTokens, ReceiptBounds.CompletionTokens(0, [], null, resumed: true));
    }

    [Fact]
    public void An_honest_receipt_is_billed_as_it_is()
    {
        var receipt = Receipt(prompt: 12, completion: 7, cached: 4);
        var check = ReceiptBounds.Check(receipt, promptBound: 40, completionBound: 8);
        Assert.False(check.Overclaimed);
        Assert.Same(receipt, check.Billed(receipt));

        // At the bound exactly is not an overclaim.
        Assert.False(ReceiptBounds.Check(receipt, 12, 7).Overclaimed);
    }

    [Fact]
    public void An_overclaim_is_billed_at_the_bounds_never_the_claim()
    {
        var receipt = Receipt(prompt: 30, completion: 256, cached: 25);
        var check = ReceiptBounds.Check(receipt, promptBound: 20, completionBound: 9);
        Assert.True(check.Overclaimed);
        var billed = check.Billed(receipt);
        Assert.Equal(20, billed.PromptTokens);
        Assert.Equal(20, billed.CachedPromptTokens); // cached never above the billed prompt
        Assert.Equal(9, billed.CompletionTokens);
        Assert.Equal(receipt.ResponseSha256, billed.ResponseSha256);

        // Either count alone is an overclaim.
        Assert.True(ReceiptBounds.Check(Receipt(prompt: 21, completion: 1), 20, 9).Overclaimed);
        Assert.True(ReceiptBounds.Check(Receipt(prompt: 1, completion: 10), 20, 9).Overclaimed);
    }

    [Fact]
    public void The_receipt_bound_and_the_hold_use_one_prompt_bound()
    {
        // The gateway holds the worst case from the same bound: a receipt within it is always within the hold.
        var request = new GenerationRequest { Messages = [new("user", "Once upon a time")], Sampling = new SamplingOptions { MaxTokens = 24 } };
        var bound = ReceiptBounds.PromptTokens(request);
        Assert.Equal(16 + 4 + 16 + 16, bound);
        Assert.False(ReceiptBounds.Check(Receipt(bound, 24), bound, 24).Overclaimed);
    }
}
