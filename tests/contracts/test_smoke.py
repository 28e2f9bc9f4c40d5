def test_dev(market, provider, reverts):
    with reverts("market: zero amount"):
        market.deposit_stake(0, sender=provider)

def test_lifecycle(delivered_job, market, requester, reverts, attacker):
    job_id = delivered_job()
    with reverts("market: challenge window open"):
        market.settle(job_id, sender=attacker)
    tx = market.settle(job_id, sender=requester)
    print("GAS", tx.gas_used)
