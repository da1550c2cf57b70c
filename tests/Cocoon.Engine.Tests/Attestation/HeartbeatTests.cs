using System.Text.Json;
using Cocoon.Engine.Attestation;
using Cocoon.Engine.Protocol;

namespace Cocoon.Engine.Tests.Attestation;

public sealed class HeartbeatTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 30, 9, 0, 0, TimeSpan.Zero);

    private static byte[] Load(DateTimeOffset at, int running = 1) =>
        JsonSerializer.SerializeToUtf8Bytes(new WorkerLoad(running, 4, 120, 7, at), WireJsonContext.Default.WorkerLoad);

    [Fact]
    public void A_heartbeat_signed_by_the_attested_key_is_believed_and_reading_it_again_is_not_a_replay()
    {
        using var identity = WorkerIdentity.Create("w1");
        var check = new HeartbeatCheck(TimeSpan.FromSeconds(30));
        var load = Load(Now);
        var signature = Heartbeat.Sign(identity, load);
        var (refusal, parsed) = check.Check("w1", identity.SigningPublicKey, load, signature, Now);
        Assert.Equal(HeartbeatRefusal.None, refusal);
        Assert.Equal(1, parsed!.Running);
        Assert.Equal(HeartbeatRefusal.None, check.Check("w1", identity.SigningPublicKey, load, signature, Now.AddSeconds(1)).Refusal);
    }

    [Fact]
    public void A_changed_load_another_workers_key_or_another_worker_id_does_not_verify()
    {
        using var identity = WorkerIdentity.Create("w1");
        using var other = WorkerIdentity.Create("w2");
        var check = new HeartbeatCheck(TimeSpan.FromSeconds(30));
        var signature = Heartbeat.Sign(identity, Load(Now));
        Assert.Equal(HeartbeatRefusal.BadSignature, check.Check("w1", identity.SigningPublicKey, Load(Now, running: 0), signature, Now).Refusal);
        Assert.Equal(HeartbeatRefusal.BadSignature, check.Check("w1", other.SigningPublicKey, Load(Now), signature, Now).Refusal);
        Assert.Equal(HeartbeatRefusal.BadSignature, check.Check("w2", identity.SigningPublicKey, Load(Now), signature, Now).Refusal);
        Assert.Equal(HeartbeatRefusal.BadSignature, check.Check("w1", identity.SigningPublicKey, Load(Now), signature.AsSpan(1), Now).Refusal);
        Assert.Equal(HeartbeatRefusal.NoSignature, check.Check("w1", identity.SigningPublicKey, Load(Now), [], Now).Refusal);
    }

    [Fact]
    public void An_older_heartbeat_after_a_newer_one_is_a_replay_and_an_old_one_is_stale()
    {
        using var identity = WorkerIdentity.Create("w1");
        var check = new HeartbeatCheck(TimeSpan.FromSeconds(30));
        var older = Load(Now);
        var newer = Load(Now.AddSeconds(1));
        Assert.Equal(HeartbeatRefusal.None, check.Check("w1", identity.SigningPublicKey, newer, Heartbeat.Sign(identity, newer), Now.AddSeconds(1)).Refusal);
        Assert.Equal(HeartbeatRefusal.Replayed, check.Check("w1", identity.SigningPublicKey, older, Heartbeat.Sign(identity, older), Now.AddSeconds(2)).Refusal);
        Assert.Equal(HeartbeatRefusal.Stale, check.Check("w1", identity.SigningPublicKey, newer, Heartbeat.Sign(identity, newer), Now.AddSeconds(32)).Refusal);
        var future = Load(Now.AddMinutes(5));
        Assert.Equal(HeartbeatRefusal.Stale, check.Check("w1", identity.SigningPublicKey, future, Heartbeat.Sign(identity, future), Now).Refusal);

        // A new process of the same worker id has a new key and starts its own history; forgetting a gone worker does too.
        using var restarted = WorkerIdentity.Create("w1");
        Assert.Equal(HeartbeatRefusal.None, check.Check("w1", restarted.SigningPublicKey, older, Heartbeat.Sign(restarted, older), Now.AddSeconds(2)).Refusal);
        check.Forget(id => id == "w1");
        Assert.Equal(HeartbeatRefusal.None, check.Check("w1", identity.SigningPublicKey, older, Heartbeat.Sign(identity, older), Now.AddSeconds(2)).Refusal);
    }
}
