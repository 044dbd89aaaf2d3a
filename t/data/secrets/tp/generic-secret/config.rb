config.api_k<CUT>ey = "CrGMcFZ1Dy6gzNhbi5Vv3n331K8M1Ryg"
settings = { "sec<CUT>ret" => "#JZHSVCknVvox-qBCaR9r0w-" }
