using System.Security.Cryptography;
using Cocoon.Engine.Attestation;
using Cocoon.Engine.Crypto;
using Cocoon.Engine.Protocol;

namespace Cocoon.Engine.Tests.Protocol;

/// <summary>The bytes both ends derive a job's keys from, and the MACs on its control messages.</summary>
public sealed class JobBindingTests
{
    private static readonly DateTimeOffset Deadline = new DateTimeOffset(2030, 1, 2, 3, 4, 5, TimeSpan.Zero).AddTicks(60007);

    [Fact]
    public void Info_is_the_exact_length_prefixed_encoding_of_version_2()
    {
        // lp("cocoon/job/v2") lp("r-1") i32(2) lp("w-a") lp("ab") i64(deadline UTC ticks), lp = u16 big-endian length.
        Assert.Equal(
            "000d636f636f6f6e2f6a6f622f76320003722d31000000020003772d610002616208e2c5baa43caae7",
            Convert.ToHexStringLower(JobBinding.Info("r-1", 2, "w-a", "ab", Deadline)));
        Assert.Equal("0011636f636f6f6e2f6a6f622d6161642f7632000467772d31", Convert.ToHexStringLower(JobBinding.Aad("gw-1")));
        Assert.Equal(2, WireVersion.Current);
    }

    [Fact]
    public void Fields_cannot_trade_bytes_with_their_neighbours()
    {
        // Joined with newlines, "a\nb" + "c" and "a" + "b\nc" gave the same info.
        Assert.NotEqual(JobBinding.Info("a\nb", 0, "c", "m", Deadline), JobBinding.Info("a", 0, "b\nc", "m", Deadline));
        Assert.NotEqual(JobBinding.Info("r", 0, "wa", "b", Deadline), JobBinding.Info("r", 0, "w", "ab", Deadline));
    }

    [Fact]
    public void A_job_given_another_deadline_does_not_open()
    {
        using var worker = HpkeKeyPair.Generate();
        var info = JobBinding.Info("r-1", 0, "w-1", "ab", Deadline);
        var job = Hpke.Seal(worker.PublicKey, info, JobBinding.Aad("gw"), "{}"u8);
        Assert.Equal("{}"u8.ToArray(), Hpke.Open(worker, job.Enc, info, JobBinding.Aad("gw"), job.Ciphertext));
        var later = JobBinding.Info("r-1", 0, "w-1", "ab", Deadline.AddTicks(1));
        Assert.Throws<CryptographicException>(() => Hpke.Open(worker, job.Enc, later, JobBinding.Aad("gw"), job.Ciphertext));
    }

    [Fact]
    public void Control_macs_verify_only_for_the_same_job_message_and_fields()
    {
        using var workerKey = HpkeKeyPair.Generate();
        var info = JobBinding.Info("r-1", 0, "w-1", "ab", Deadline);
        using var gateway = Hpke.SetupSender(workerKey.PublicKey, info);
        using var worker = Hpke.SetupRecipient(workerKey, gateway.Enc, info);
        using var gatewayControl = JobControlKey.Create(gateway);
        using var workerControl = JobControlKey.Create(worker);

        var error = workerControl.Error("r-1", 0, "w-1", "expired");
        Assert.True(gatewayControl.VerifyError("r-1", 0, "w-1", "expired", error));
        Assert.False(gatewayControl.VerifyError("r-1", 0, "w-1", "invalid-request", error));
        Assert.False(gatewayControl.VerifyError("r-1", 1, "w-1", "expired", error));
        Assert.False(gatewayControl.VerifyError("r-2", 0, "w-1", "expired", error));
        Assert.False(gatewayControl.VerifyError("r-1", 0, "w-1", "expired", null));
        Assert.False(gatewayControl.VerifyError("r-1", 0, "w-1", null, error));

        var cancel = gatewayControl.Cancel("r-1", 0, "w-1");
        Assert.True(workerControl.VerifyCancel("r-1", 0, "w-1", cancel));
        Assert.False(workerControl.VerifyCancel("r-1", 0, "w-2", cancel));
        Assert.False(workerControl.VerifyCancel("r-1", 0, "w-1", error)); // an error's MAC is not a cancel's

        // A stop after part of the answer: its MAC covers the chunk count, and it is neither a cancel nor another count.
        var stop = gatewayControl.Stop("r-1", 0, "w-1", 5);
        Assert.True(workerControl.VerifyStop("r-1", 0, "w-1", 5, stop));
        Assert.False(workerControl.VerifyStop("r-1", 0, "w-1", 6, stop));
        Assert.False(workerControl.VerifyCancel("r-1", 0, "w-1", stop));
        Assert.False(workerControl.VerifyStop("r-1", 0, "w-1", 5, cancel));

        // Another job's context (another enc) gives another key.
        using var other = Hpke.SetupSender(workerKey.PublicKey, info);
        using var otherControl = JobControlKey.Create(other);
        Assert.False(otherControl.VerifyCancel("r-1", 0, "w-1", cancel));
    }

    [Fact]
    public void Authenticates_tells_a_forged_chunk_from_the_workers_own_without_breaking_the_stream()
    {
        using var workerKey = HpkeKeyPair.Generate();
        using var gateway = Hpke.SetupSender(workerKey.PublicKey, "i"u8);
        using var worker = Hpke.SetupRecipient(workerKey, gateway.Enc, "i"u8);
        using var sealer = ChunkSealer.Create(worker, "r-1");
        using var opener = ChunkOpener.Create(gateway, "r-1");
        var first = sealer.Seal("Hi"u8, isFinal: false);
        var forged = first with { Ciphertext = [.. first.Ciphertext.Select(b => (byte)(b ^ 1))] };
        Assert.False(opener.Authenticates(forged));
        Assert.False(opener.Authenticates(first with { Sequence = 1 }));
        Assert.False(opener.Authenticates(first with { IsFinal = true }));
        Assert.True(opener.Authenticates(first));
        Assert.Equal("Hi"u8.ToArray(), opener.Open(first));
    }

    [Fact]
    public void A_rotated_key_still_opens_until_it_is_retired_and_is_then_wiped()
    {
        using var identity = WorkerIdentity.Create("w-rotate");
        var first = (byte[])identity.Sealing.PublicKey.Clone();
        var retireAt = DateTimeOffset.UtcNow.AddHours(1);
        identity.RotateSealing(retireAt);
        Assert.NotEqual(first, identity.Sealing.PublicKey);
        Assert.NotNull(identity.FindSealing(first));
        Assert.Same(identity.Sealing, identity.FindSealing(identity.Sealing.PublicKey));

        var kept = identity.FindSealing(first)!;
        Assert.Equal(0, identity.RetireSealingKeys(retireAt.AddTicks(-1)));
        Assert.Equal(1, identity.RetireSealingKeys(retireAt));
        Assert.Null(identity.FindSealing(first));
        Assert.Throws<ObjectDisposedException>(() => Hpke.SetupRecipient(kept, identity.Sealing.PublicKey, "i"u8));
    }
}
