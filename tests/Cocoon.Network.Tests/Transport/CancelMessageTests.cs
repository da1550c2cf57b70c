using Cocoon.Network.Transport;

namespace Cocoon.Network.Tests.Transport;

/// <summary>The cancel message's wire form: "attempt:64 hex digits of MAC:request id"; anything else is ignored.</summary>
public sealed class CancelMessageTests
{
    private static readonly string Mac = new('a', 64);

    [Fact]
    public void A_well_formed_cancel_parses_with_its_mac_and_a_request_id_that_may_hold_colons()
    {
        var parsed = JobCancellations.Parse("3:" + Mac + ":r:with:colons");
        Assert.NotNull(parsed);
        Assert.Equal(("r:with:colons", 3), (parsed.Value.RequestId, parsed.Value.Attempt));
        Assert.Equal(Convert.FromHexString(Mac), parsed.Value.Mac);
    }

    [Fact]
    public void A_stop_after_part_of_the_answer_carries_the_chunk_count()
    {
        var parsed = JobCancellations.Parse("2/17:" + Mac + ":r-1");
        Assert.NotNull(parsed);
        Assert.Equal(("r-1", 2, (long?)17), (parsed.Value.RequestId, parsed.Value.Attempt, parsed.Value.ChunksTaken));
        Assert.Null(JobCancellations.Parse("2:" + Mac + ":r-1")!.Value.ChunksTaken);
        Assert.Null(JobCancellations.Parse("2/x:" + Mac + ":r-1"));
        Assert.Null(JobCancellations.Parse("2/-1:" + Mac + ":r-1"));
        Assert.Null(JobCancellations.Parse("/5:" + Mac + ":r-1"));
    }

    [Fact]
    public void An_attestation_challenge_parses_and_anything_else_is_ignored()
    {
        var nonce = new string('0', 63) + "1";
        var parsed = AttestationChallenges.Parse(nonce + ":att-1:gw:with:colons");
        Assert.NotNull(parsed);
        Assert.Equal(("att-1", "gw:with:colons"), (parsed.ChallengeId, parsed.ReplyTo));
        Assert.Equal(Convert.FromHexString(nonce), parsed.Nonce);
        Assert.Null(AttestationChallenges.Parse(nonce[..62] + ":att-1:gw"));
        Assert.Null(AttestationChallenges.Parse(new string('g', 64) + ":att-1:gw"));
        Assert.Null(AttestationChallenges.Parse(nonce + ":att-1:"));
        Assert.Null(AttestationChallenges.Parse(nonce + "::gw"));
        Assert.Null(AttestationChallenges.Parse(null));
    }

    [Theory]
    [InlineData("0:r-1")] // the old form, without a MAC
    [InlineData("x:aaaa:r-1")]
    [InlineData("-1:aaaa:r-1")]
    [InlineData("")]
    [InlineData(null)]
    public void Anything_else_is_ignored(string? message) => Assert.Null(JobCancellations.Parse(message));

    [Fact]
    public void A_mac_that_is_not_64_hex_digits_is_ignored()
    {
        Assert.Null(JobCancellations.Parse("0:" + new string('g', 64) + ":r-1"));
        Assert.Null(JobCancellations.Parse("0:" + new string('a', 63) + ":r-1"));
        Assert.Null(JobCancellations.Parse("0:" + Mac + ":"));
    }
}
