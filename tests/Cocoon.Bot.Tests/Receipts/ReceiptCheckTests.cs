using System.Text.Json.Nodes;
using Cocoon.Bot.Api;
using Cocoon.Bot.Dispatch;
using Cocoon.Bot.Receipts;
using Cocoon.Bot.Tests.Dispatch;
using Cocoon.Engine.Attestation;
using Cocoon.Ledger.Receipts;
using Cocoon.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Cocoon.Bot.Tests.Receipts;

/// <summary>
/// What `./cocoon verify` runs (<see cref="ReceiptCheck"/>) on a real answer's receipt, under the policy the gateway
/// publishes (through its JSON form, as the client receives it): it accepts the real receipt and names the failed
/// check for each forgery. Reading the root back from a real chain transaction is covered in the Ledger tests.
/// </summary>
public sealed class ReceiptCheckTests(RedisFixture redis) : IClassFixture<RedisFixture>
{
    private readonly CancellationToken _ct = new CancellationTokenSource(TimeSpan.FromSeconds(120)).Token;

    [Fact]
    public async Task Verify_accepts_a_real_receipt_and_rejects_a_changed_answer_request_foreign_key_and_other_root()
    {
        await using var stack = new DispatchNetwork(redis.Server);
        var (first, answer, _, leaves, root, record, document) = await ReceiptScenario.AnchoredAsync(stack, _ct);

        var published = AttestationPolicyEndpoint.Policy(stack.Gateway.Services.GetRequiredService<IOptions<DispatchOptions>>().Value).ToJson();
        var policy = PublishedPolicy.FromJson(JsonNode.Parse(published.ToJsonString())!);
        var request = ReceiptHashes.CanonicalRequest(first.Generation);

        var real = ReceiptCheck.Run(document, policy, request, answer, root);
        Assert.All(real, r => Assert.True(r.Ok, $"{r.Name}: {r.Detail}"));
        Assert.Equal([ReceiptCheck.Signature, ReceiptCheck.Attestation, ReceiptCheck.RequestHash, ReceiptCheck.ResponseHash, ReceiptCheck.Inclusion], real.Select(r => r.Name));

        Assert.Equal(ReceiptCheck.ResponseHash, Failed(ReceiptCheck.Run(document, policy, request, answer + "!", root)));
        var changed = ReceiptHashes.CanonicalRequest(first.Generation with { Prompt = "Once upon a tim" });
        Assert.Equal(ReceiptCheck.RequestHash, Failed(ReceiptCheck.Run(document, policy, changed, answer, root)));
        Assert.Equal(ReceiptCheck.Inclusion, Failed(ReceiptCheck.Run(document, policy, request, answer, leaves[1])));

        // Signed by a key that is not in the attested document.
        var forgedDocument = ReceiptScenario.ForgedDocument(record);
        var forgedResults = ReceiptCheck.Run(forgedDocument, policy, request, answer, root);
        Assert.False(forgedResults.Single(r => r.Name == ReceiptCheck.Signature).Ok);

        // A document that the policy does not trust: a platform key the gateway never published.
        var untrusted = policy with { Policy = policy.Policy with { TrustedSimulatedPlatformKeys = [new string('0', 64)] } };
        Assert.Equal(ReceiptCheck.Attestation, Failed(ReceiptCheck.Run(document, untrusted, request, answer, root)));
    }

    private static string Failed(IReadOnlyList<ReceiptCheckResult> results)
    {
        var failed = results.Where(r => !r.Ok).Select(r => r.Name).ToList();
        return Assert.Single(failed);
    }
}
