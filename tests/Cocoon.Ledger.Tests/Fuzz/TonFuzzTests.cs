using Cocoon.Ledger.Ton;
using Cocoon.Testing;
using Microsoft.Extensions.Options;

namespace Cocoon.Ledger.Tests.Fuzz;

/// <summary>
/// Seeded property tests of the TON parsers that read what clients and the chain send: a bag of cells, an address and
/// a <c>ton_proof</c>. Each either accepts its input or throws its documented exception (<see cref="TonFormatException"/>,
/// <see cref="TonProofException"/>); nothing else escapes, and what is accepted is consistent.
/// </summary>
public sealed class TonFuzzTests
{
    private const string Domain = "cocoon.example";
    private static readonly DateTimeOffset Now = DateTimeOffset.FromUnixTimeSeconds(1_800_000_000);

    /// <summary>Real bags of cells: wallet state inits, comments (long ones span cells), an internal message; with and without index and CRC.</summary>
    private static readonly byte[][] Bocs = MakeBocs();

    [Fact]
    public void A_mutated_bag_of_cells_parses_or_is_a_TonFormatException()
    {
        Cocoon.Testing.Fuzz.Run(seed: 1401, cases: 3000, fuzz =>
        {
            var boc = fuzz.Show(fuzz.Chance(0.05) ? fuzz.Bytes(64) : fuzz.Mutate(fuzz.Pick(Bocs)));
            IReadOnlyList<Cell> roots;
            try
            {
                roots = BagOfCells.Parse(boc);
            }
            catch (TonFormatException)
            {
                return;
            }

            // Whatever parses serializes back to a bag that parses to the same cells (same hashes).
            foreach (var root in roots)
            {
                Assert.Equal(root.Hash, Cell.FromBoc(root.ToBoc()).Hash);
                ReadAsWalletParts(root);
            }
        });
    }

    [Fact]
    public void Random_base64_is_a_bag_of_cells_or_a_TonFormatException()
    {
        Cocoon.Testing.Fuzz.Run(seed: 1402, cases: 1000, fuzz =>
        {
            var text = fuzz.Show(fuzz.Chance(0.5) ? fuzz.MutateText(Convert.ToBase64String(fuzz.Pick(Bocs))) : fuzz.Text(40));
            try
            {
                Cell.FromBocBase64(text);
            }
            catch (TonFormatException)
            {
            }
        });
    }

    [Fact]
    public void A_mutated_address_parses_to_itself_or_is_a_TonFormatException()
    {
        using var key = WalletKey.FromSeed(Enumerable.Range(7, 32).Select(i => (byte)i).ToArray());
        var address = new WalletV5R1(key.PublicKey).Address;
        string[] forms =
        [
            address.ToRaw(), address.ToFriendly(), address.ToFriendly(bounceable: false), address.ToFriendly(bounceable: false, testOnly: true),
            new TonAddress(-1, address.Hash).ToRaw(), new TonAddress(-1, address.Hash).ToFriendly(),
        ];
        Cocoon.Testing.Fuzz.Run(seed: 1403, cases: 3000, fuzz =>
        {
            var text = fuzz.Show(fuzz.Chance(0.1) ? fuzz.Text(50) : fuzz.MutateText(fuzz.Pick(forms)));
            Assert.Equal(TonAddress.TryParse(text, out var tried), Parses(text, out var parsed));
            if (parsed is not null)
            {
                // Accepted means canonical: both spellings of what was read parse back to the same account.
                Assert.Equal(parsed, tried);
                Assert.Equal(parsed, TonAddress.Parse(parsed.ToRaw()));
                Assert.Equal(parsed, TonAddress.Parse(parsed.ToFriendly()));
            }
        });

        static bool Parses(string text, out TonAddress? parsed)
        {
            try
            {
                parsed = TonAddress.Parse(text);
                return true;
            }
            catch (TonFormatException)
            {
                parsed = null;
                return false;
            }
        }
    }

    [Fact]
    public async Task A_mutated_ton_proof_verifies_only_for_its_wallet_or_is_a_TonProofException()
    {
        using var key = WalletKey.FromSeed(Enumerable.Range(1, 32).Select(i => (byte)i).ToArray());
        var wallet = new WalletV5R1(key.PublicKey);
        var clock = new FixedClock(Now);
        var verifier = new TonProofVerifier(Options.Create(new TonProofOptions { AllowedDomains = [Domain] }), clock, new InMemoryTonProofNonces(clock));
        var stateInit = wallet.StateInit.ToCell().ToBoc();
        var accepted = 0;
        await Cocoon.Testing.Fuzz.RunAsync(seed: 1404, cases: 1500, async fuzz =>
        {
            // Every other case is checked for another user than the one the payload was issued to: never accepted.
            var owner = "tg:1";
            var checker = fuzz.Chance(0.5) ? owner : "tg:2";
            var nonce = await verifier.IssueNonceAsync(owner, default);
            var timestamp = Now.ToUnixTimeSeconds();
            var signature = key.Sign(TonProofVerifier.SigningHash(wallet.Address, Domain, timestamp, nonce));
            var proof = new TonProofRequest(wallet.Address.ToFriendly(), Domain, timestamp, nonce, Convert.ToBase64String(signature),
                Convert.ToBase64String(stateInit), Convert.ToHexStringLower(key.PublicKey));
            proof = fuzz.Next(9) switch
            {
                0 => proof with { Address = fuzz.MutateText(proof.Address) },
                1 => proof with { Domain = fuzz.Chance(0.5) ? fuzz.MutateText(Domain) : fuzz.Text() },
                2 => proof with { Timestamp = fuzz.Pick<long>([0, -1, long.MinValue, long.MaxValue, timestamp + 61, timestamp - 100_000, 253_402_300_800, -62_135_596_801]) },
                3 => proof with { Payload = fuzz.MutateText(nonce) },
                4 => proof with { SignatureBase64 = fuzz.Chance(0.5) ? fuzz.MutateText(proof.SignatureBase64) : Convert.ToBase64String(fuzz.Mutate(signature)) },
                5 => proof with { WalletStateInitBase64 = Convert.ToBase64String(fuzz.Mutate(stateInit)) },
                6 => proof with { PublicKeyHex = fuzz.Chance(0.5) ? fuzz.Text(64) : null },
                7 => proof with { Address = null!, Domain = fuzz.Chance(0.5) ? null! : Domain, Payload = fuzz.Chance(0.5) ? null! : nonce },
                _ => proof,
            };
            fuzz.Show(proof);
            try
            {
                Assert.Equal(wallet.Address, await verifier.VerifyAsync(proof, checker, default));
                Assert.Equal(owner, checker);
                accepted++;
            }
            catch (TonProofException)
            {
            }
        });

        // The unmutated cases (about one in nine) must verify, or the property tested nothing.
        Assert.InRange(accepted, 1, int.MaxValue);
    }

    /// <summary>What the proof check does with a parsed cell: read it as a state init and its data as a wallet's.</summary>
    private static void ReadAsWalletParts(Cell root)
    {
        try
        {
            var init = StateInit.FromCell(root);
            WalletV5R1.PublicKeyFromData(init.Data);
            WalletV4R2.PublicKeyFromData(init.Data);
        }
        catch (TonFormatException)
        {
        }

        TonMessages.TryReadComment(root);
    }

    private static byte[][] MakeBocs()
    {
        using var key = WalletKey.FromSeed(new byte[32]);
        var v5 = new WalletV5R1(key.PublicKey);
        var v4 = new WalletV4R2(key.PublicKey);
        var cells = new[]
        {
            v5.StateInit.ToCell(),
            v4.StateInit.ToCell(),
            TonMessages.Comment("INVOICE-1234"),
            TonMessages.Comment(new string('é', 300)),
            TonMessages.Internal(InternalTransfer.WithComment(v4.Address, 1_000_000_000, "hello")),
            Cell.Empty,
        };
        return [.. cells.SelectMany(c => new[] { c.ToBoc(), c.ToBoc(withIndex: true), c.ToBoc(withCrc32C: false) })];
    }

    private sealed class FixedClock(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }
}
